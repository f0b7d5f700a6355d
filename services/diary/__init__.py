"""The diary service (diariet): registers every document, dispatches letters only after registration."""
