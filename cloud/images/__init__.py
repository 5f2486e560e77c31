"""Visual History: photos hubs upload, their thumbnails, and the diagnoses attached to them."""
