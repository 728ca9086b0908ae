"""A folder of files read into documents: verbatim text, metadata, stable ids."""
