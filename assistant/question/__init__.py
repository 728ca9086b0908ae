"""A question read once into a typed `Question` (spelling, indirect forms, follow-ups, the article it names,
its parts and intents), and the router that says how it is answered."""
