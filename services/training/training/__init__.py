"""Training (*Bimtek*) and coordination meetings (*Rakor*)."""
