"""Talking to Medplum: FHIR models, authentication and the async HTTP client. No Textual here."""
