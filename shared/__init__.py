"""The library every patientnämnd service stands on: contract, wrapper, settings, logging, rules."""
