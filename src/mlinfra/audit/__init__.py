"""`mlinfra audit`: compliance rules over each environment's IR, waivers, reports and diffs."""
