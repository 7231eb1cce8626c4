"""Data tables (classes, aliases, label tables): installed as sunprep.mappings."""
