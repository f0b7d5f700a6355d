"""`pn demo`: a year of realistic data generated from the seeds' figures, run through every service."""
