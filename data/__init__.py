"""The shared database: schema, engine, migrations, settings and demo data."""
