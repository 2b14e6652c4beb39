"""SMART Sandbox EHR: a FHIR R4 server, SMART authorization server and clinician UI in one package."""

__version__ = "0.1.0"
