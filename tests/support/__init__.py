"""Helpers that several test folders share: ports, processes, and raw clients of Mage and of a Cloud API."""
