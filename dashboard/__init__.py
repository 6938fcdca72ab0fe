"""The dashboard's page sections, one module a view; streamlit_app.py puts them together (UI only)."""
