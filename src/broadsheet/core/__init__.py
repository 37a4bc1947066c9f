"""What every stage shares: errors, settings, schemas, the values that flow, and writing outputs safely."""
