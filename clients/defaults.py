"""Public default values of the two APIs (no secrets: Mage ships the cluster key in every frontend)."""

DEFAULT_CLOUD_URL = "https://cloud.mage.ai/api/v1"

# Mage's built-in frontend OAuth client id, baked into every Mage; not a secret.
MAGE_PUBLIC_API_KEY = "zkWlN0PkIKSN0C11CfUHUj84OT5XOJ6tDZ6bDRO2"
