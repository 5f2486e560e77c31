"""Plant diagnoses from a photo and the plant's recent history: Gemini, or a built-in heuristic."""
