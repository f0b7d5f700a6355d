"""The platform as a whole: which services exist (their specs), their Kafka ACLs, running them together."""
