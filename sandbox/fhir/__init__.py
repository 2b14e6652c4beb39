"""FHIR R4 REST API blueprint, mounted at /fhir."""

from flask import Blueprint

blueprint = Blueprint("fhir", __name__)
