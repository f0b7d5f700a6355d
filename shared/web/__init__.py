"""HTTP for every service: the gate (authentication, roles, body limits), tokens, and the audit of reads."""
