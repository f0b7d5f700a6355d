"""Pure values of the domain (money, personnummer, HSA-id): import nothing else of ours."""
