"""Default configuration data shipped with the service: carrier accounts, hubs, return policies, FX rates."""
