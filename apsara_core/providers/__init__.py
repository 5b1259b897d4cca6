"""AI providers behind one protocol (base.py); Gemini first (google.py)."""
