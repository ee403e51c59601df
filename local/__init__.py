"""Launch and stop a real Mage OSS server for local use and integration tests."""
