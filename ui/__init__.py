"""Shared pieces of the Streamlit app: who is logged in, the engine, tiles, tables, theme."""
