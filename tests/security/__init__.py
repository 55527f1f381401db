"""Security tests from the attacker's side (a package, so module names may repeat other tiers')."""
