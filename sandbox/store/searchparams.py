"""Search parameters the store indexes (the patient compartment is data: see compartment.py).

Each parameter names the elements it reads as dotted paths (choice types spelled out, e.g.
``effectiveDateTime``). The index tables are filled from these definitions on every write, so a
search never scans JSON. Names and paths follow the FHIR R4 search parameter registry
(https://hl7.org/fhir/R4/searchparameter-registry.html).
"""

from __future__ import annotations

from dataclasses import dataclass

TOKEN, STRING, DATE, REFERENCE, URI = "token", "string", "date", "reference", "uri"


@dataclass(frozen=True)
class SearchParam:
    name: str
    kind: str
    paths: tuple[str, ...]
    targets: tuple[str, ...] = ()  # reference params: allowed target types (empty = any)
    description: str = ""


def _p(name: str, kind: str, *paths: str, targets: tuple[str, ...] = (), doc: str = "") -> SearchParam:
    return SearchParam(name, kind, tuple(paths), targets, doc)


PATIENT = ("Patient",)
ENCOUNTER = ("Encounter",)
CLINICAL_DATES = ("effectiveDateTime", "effectivePeriod", "effectiveInstant")

# Parameters every resource type supports (besides _id and _lastUpdated, which read resource columns).
COMMON = (
    _p("_profile", URI, "meta.profile", doc="Profiles this resource claims to conform to"),
    _p("_tag", TOKEN, "meta.tag", doc="Tags applied to this resource"),
    _p("_security", TOKEN, "meta.security", doc="Security labels applied to this resource"),
)

_DEFINITIONS: dict[str, tuple[SearchParam, ...]] = {
    "Patient": (
        _p("identifier", TOKEN, "identifier", doc="A patient identifier, such as the MRN"),
        _p("name", STRING, "name", doc="Any part of the name: family, given, prefix, suffix or text"),
        _p("family", STRING, "name.family", doc="A portion of the family name"),
        _p("given", STRING, "name.given", doc="A portion of the given name"),
        _p("birthdate", DATE, "birthDate", doc="The patient's date of birth"),
        _p("gender", TOKEN, "gender", doc="Gender of the patient"),
        _p("address", STRING, "address", doc="Any part of the address"),
        _p("address-city", STRING, "address.city", doc="The city of the address"),
        _p("address-postalcode", STRING, "address.postalCode", doc="The postal code of the address"),
        _p("telecom", TOKEN, "telecom", doc="Any kind of telecom detail"),
        _p("phone", TOKEN, "telecom[system=phone]", doc="A phone number"),
        _p("email", TOKEN, "telecom[system=email]", doc="An email address"),
        _p("active", TOKEN, "active", doc="Whether the record is active"),
        _p("general-practitioner", REFERENCE, "generalPractitioner", doc="Nominated primary care provider"),
        _p("organization", REFERENCE, "managingOrganization", doc="The organization that manages the record"),
        _p("language", TOKEN, "communication.language", doc="Language code"),
        _p("link", REFERENCE, "link.other", doc="All patients linked to the given patient"),
    ),
    "Encounter": (
        _p("patient", REFERENCE, "subject", targets=PATIENT, doc="The patient present at the encounter"),
        _p("subject", REFERENCE, "subject", doc="The patient or group present at the encounter"),
        _p("date", DATE, "period", doc="A date within the period the encounter lasted"),
        _p("status", TOKEN, "status", doc="planned | arrived | in-progress | finished …"),
        _p("class", TOKEN, "class", doc="Classification of the encounter (AMB, EMER, IMP …)"),
        _p("type", TOKEN, "type", doc="Specific type of encounter"),
        _p("identifier", TOKEN, "identifier", doc="Identifier of the encounter"),
        _p("participant", REFERENCE, "participant.individual", doc="Persons involved in the encounter"),
        _p("practitioner", REFERENCE, "participant.individual", targets=("Practitioner",),
           doc="Practitioners involved in the encounter"),
        _p("reason-code", TOKEN, "reasonCode", doc="Coded reason the encounter takes place"),
        _p("service-provider", REFERENCE, "serviceProvider", doc="The organization responsible"),
        _p("location", REFERENCE, "location.location", doc="Location the encounter takes place"),
    ),
    "Observation": (
        _p("patient", REFERENCE, "subject", targets=PATIENT, doc="The subject, when it is a patient"),
        _p("subject", REFERENCE, "subject", doc="The subject the observation is about"),
        _p("category", TOKEN, "category", doc="The classification of the observation"),
        _p("code", TOKEN, "code", doc="The code of the observation"),
        _p("date", DATE, *CLINICAL_DATES, doc="Clinically relevant time of the observation"),
        _p("status", TOKEN, "status", doc="The status of the observation"),
        _p("encounter", REFERENCE, "encounter", targets=ENCOUNTER, doc="Encounter related to the observation"),
        _p("identifier", TOKEN, "identifier", doc="The unique id of an observation"),
        _p("performer", REFERENCE, "performer", doc="Who performed the observation"),
        _p("based-on", REFERENCE, "basedOn", doc="Plan or request fulfilled by this observation"),
        _p("component-code", TOKEN, "component.code", doc="The code of a component"),
        _p("combo-code", TOKEN, "code", "component.code", doc="The code of the observation or a component"),
        _p("value-concept", TOKEN, "valueCodeableConcept", doc="The value, when it is a concept"),
    ),
    "Condition": (
        _p("patient", REFERENCE, "subject", targets=PATIENT, doc="Who has the condition"),
        _p("subject", REFERENCE, "subject", doc="Who has the condition"),
        _p("category", TOKEN, "category", doc="problem-list-item | encounter-diagnosis | health-concern"),
        _p("clinical-status", TOKEN, "clinicalStatus", doc="active | recurrence | inactive | resolved …"),
        _p("verification-status", TOKEN, "verificationStatus", doc="confirmed | provisional …"),
        _p("code", TOKEN, "code", doc="Code for the condition"),
        _p("onset-date", DATE, "onsetDateTime", "onsetPeriod", doc="Date of onset"),
        _p("abatement-date", DATE, "abatementDateTime", "abatementPeriod", doc="Date of abatement"),
        _p("recorded-date", DATE, "recordedDate", doc="Date the condition was first recorded"),
        _p("encounter", REFERENCE, "encounter", targets=ENCOUNTER, doc="Encounter the condition was noted in"),
        _p("asserter", REFERENCE, "asserter", doc="Person who asserts the condition"),
        _p("identifier", TOKEN, "identifier", doc="Identifier of the condition"),
    ),
    "MedicationRequest": (
        _p("patient", REFERENCE, "subject", targets=PATIENT, doc="Patient the prescription is for"),
        _p("subject", REFERENCE, "subject", doc="Who the prescription is for"),
        _p("status", TOKEN, "status", doc="active | on-hold | cancelled | completed …"),
        _p("intent", TOKEN, "intent", doc="proposal | plan | order …"),
        _p("authoredon", DATE, "authoredOn", doc="Date the prescription was written"),
        _p("encounter", REFERENCE, "encounter", targets=ENCOUNTER, doc="Encounter the request was made in"),
        _p("code", TOKEN, "medicationCodeableConcept", doc="Medication code"),
        _p("medication", REFERENCE, "medicationReference", doc="Medication resource requested"),
        _p("requester", REFERENCE, "requester", doc="Who asked for the medication"),
        _p("identifier", TOKEN, "identifier", doc="Identifier of the request"),
    ),
    "AllergyIntolerance": (
        _p("patient", REFERENCE, "patient", targets=PATIENT, doc="Who the sensitivity is for"),
        _p("clinical-status", TOKEN, "clinicalStatus", doc="active | inactive | resolved"),
        _p("verification-status", TOKEN, "verificationStatus", doc="unconfirmed | confirmed …"),
        _p("code", TOKEN, "code", "reaction.substance", doc="Code of the substance"),
        _p("category", TOKEN, "category", doc="food | medication | environment | biologic"),
        _p("criticality", TOKEN, "criticality", doc="low | high | unable-to-assess"),
        _p("date", DATE, "recordedDate", doc="Date first recorded"),
        _p("recorder", REFERENCE, "recorder", doc="Who recorded the sensitivity"),
        _p("identifier", TOKEN, "identifier", doc="Identifier of the record"),
    ),
    "Immunization": (
        _p("patient", REFERENCE, "patient", targets=PATIENT, doc="The patient immunized"),
        _p("date", DATE, "occurrenceDateTime", doc="Vaccination administration date"),
        _p("status", TOKEN, "status", doc="completed | entered-in-error | not-done"),
        _p("vaccine-code", TOKEN, "vaccineCode", doc="Vaccine product administered"),
        _p("performer", REFERENCE, "performer.actor", doc="Who performed the vaccination"),
        _p("location", REFERENCE, "location", doc="Where the vaccination occurred"),
        _p("identifier", TOKEN, "identifier", doc="Identifier of the record"),
    ),
    "Procedure": (
        _p("patient", REFERENCE, "subject", targets=PATIENT, doc="The patient the procedure was performed on"),
        _p("subject", REFERENCE, "subject", doc="Who the procedure was performed on"),
        _p("date", DATE, "performedDateTime", "performedPeriod", doc="When the procedure was performed"),
        _p("code", TOKEN, "code", doc="Code of the procedure"),
        _p("status", TOKEN, "status", doc="preparation | in-progress | completed …"),
        _p("encounter", REFERENCE, "encounter", targets=ENCOUNTER, doc="Encounter the procedure belongs to"),
        _p("performer", REFERENCE, "performer.actor", doc="Who performed the procedure"),
        _p("identifier", TOKEN, "identifier", doc="Identifier of the procedure"),
    ),
    "DiagnosticReport": (
        _p("patient", REFERENCE, "subject", targets=PATIENT, doc="The patient the report is about"),
        _p("subject", REFERENCE, "subject", doc="The subject of the report"),
        _p("category", TOKEN, "category", doc="Which diagnostic discipline produced the report"),
        _p("code", TOKEN, "code", doc="The code of the report"),
        _p("date", DATE, *CLINICAL_DATES, doc="Clinically relevant time of the report"),
        _p("status", TOKEN, "status", doc="The status of the report"),
        _p("encounter", REFERENCE, "encounter", targets=ENCOUNTER, doc="Encounter the report belongs to"),
        _p("result", REFERENCE, "result", doc="Observations that are part of the report"),
        _p("performer", REFERENCE, "performer", doc="Who is responsible for the report"),
        _p("identifier", TOKEN, "identifier", doc="Identifier of the report"),
    ),
    "DocumentReference": (
        _p("patient", REFERENCE, "subject", targets=PATIENT, doc="Who the document is about"),
        _p("subject", REFERENCE, "subject", doc="Who or what the document is about"),
        _p("category", TOKEN, "category", doc="Categorization of the document"),
        _p("type", TOKEN, "type", doc="Kind of document"),
        _p("date", DATE, "date", doc="When the document reference was created"),
        _p("period", DATE, "context.period", doc="Time of service that is being documented"),
        _p("status", TOKEN, "status", doc="current | superseded | entered-in-error"),
        _p("encounter", REFERENCE, "context.encounter", targets=ENCOUNTER, doc="Context of the document"),
        _p("author", REFERENCE, "author", doc="Who wrote the document"),
        _p("identifier", TOKEN, "identifier", "masterIdentifier", doc="Identifier of the document"),
    ),
    "Practitioner": (
        _p("name", STRING, "name", doc="Any part of the name"),
        _p("family", STRING, "name.family", doc="A portion of the family name"),
        _p("given", STRING, "name.given", doc="A portion of the given name"),
        _p("identifier", TOKEN, "identifier", doc="A practitioner identifier, such as the NPI"),
        _p("active", TOKEN, "active", doc="Whether the record is active"),
    ),
    "PractitionerRole": (
        _p("practitioner", REFERENCE, "practitioner", doc="Practitioner that is able to provide the service"),
        _p("organization", REFERENCE, "organization", doc="The organization where the role is available"),
        _p("location", REFERENCE, "location", doc="Locations where the role is performed"),
        _p("specialty", TOKEN, "specialty", doc="The practitioner's specialty"),
        _p("role", TOKEN, "code", doc="The role the practitioner may perform"),
        _p("identifier", TOKEN, "identifier", doc="Identifier of the role"),
    ),
    "Organization": (
        _p("name", STRING, "name", "alias", doc="A portion of the organization's name or alias"),
        _p("identifier", TOKEN, "identifier", doc="Any identifier of the organization"),
        _p("type", TOKEN, "type", doc="A code for the type of organization"),
        _p("address", STRING, "address", doc="Any part of the address"),
        _p("active", TOKEN, "active", doc="Whether the record is active"),
    ),
    "Location": (
        _p("name", STRING, "name", "alias", doc="A portion of the location's name or alias"),
        _p("identifier", TOKEN, "identifier", doc="An identifier of the location"),
        _p("address", STRING, "address", doc="Any part of the address"),
        _p("organization", REFERENCE, "managingOrganization", doc="The organization responsible"),
        _p("type", TOKEN, "type", doc="A code for the type of location"),
        _p("status", TOKEN, "status", doc="active | suspended | inactive"),
    ),
    "Medication": (
        _p("code", TOKEN, "code", doc="Codes that identify this medication"),
        _p("identifier", TOKEN, "identifier", doc="Identifier of the medication"),
    ),
    "RelatedPerson": (
        _p("patient", REFERENCE, "patient", targets=PATIENT, doc="The patient this person is related to"),
        _p("name", STRING, "name", doc="Any part of the name"),
        _p("identifier", TOKEN, "identifier", doc="An identifier of the person"),
        _p("relationship", TOKEN, "relationship", doc="The relationship to the patient"),
    ),
    "Device": (
        _p("patient", REFERENCE, "patient", targets=PATIENT, doc="Patient the device is affixed to"),
        _p("type", TOKEN, "type", doc="The type of the device"),
        _p("identifier", TOKEN, "identifier", doc="Instance id from manufacturer or owner"),
    ),
    "CarePlan": (
        _p("patient", REFERENCE, "subject", targets=PATIENT, doc="Who the care plan is for"),
        _p("subject", REFERENCE, "subject", doc="Who the care plan is for"),
        _p("category", TOKEN, "category", doc="Type of plan"),
        _p("status", TOKEN, "status", doc="draft | active | completed …"),
        _p("date", DATE, "period", doc="Time period the plan covers"),
        _p("encounter", REFERENCE, "encounter", targets=ENCOUNTER, doc="Encounter created as part of"),
    ),
    "CareTeam": (
        _p("patient", REFERENCE, "subject", targets=PATIENT, doc="Who the care team is for"),
        _p("subject", REFERENCE, "subject", doc="Who the care team is for"),
        _p("status", TOKEN, "status", doc="proposed | active | suspended …"),
        _p("participant", REFERENCE, "participant.member", doc="Who is involved"),
    ),
    "Goal": (
        _p("patient", REFERENCE, "subject", targets=PATIENT, doc="Who the goal is for"),
        _p("lifecycle-status", TOKEN, "lifecycleStatus", doc="proposed | active | completed …"),
        _p("target-date", DATE, "target.dueDate", doc="Reach goal on or before"),
    ),
    "ServiceRequest": (
        _p("patient", REFERENCE, "subject", targets=PATIENT, doc="Who the request is for"),
        _p("subject", REFERENCE, "subject", doc="Who the request is for"),
        _p("code", TOKEN, "code", doc="What is being requested"),
        _p("category", TOKEN, "category", doc="Classification of the service"),
        _p("status", TOKEN, "status", doc="draft | active | completed …"),
        _p("authored", DATE, "authoredOn", doc="Date the request was signed"),
        _p("encounter", REFERENCE, "encounter", targets=ENCOUNTER, doc="Encounter the request was made in"),
    ),
    "Provenance": (
        _p("target", REFERENCE, "target", doc="Target reference(s)"),
        _p("patient", REFERENCE, "target", targets=PATIENT, doc="Target references that are patients"),
        _p("agent", REFERENCE, "agent.who", doc="Who participated"),
        _p("recorded", DATE, "recorded", doc="When the activity was recorded"),
    ),
    "Coverage": (
        _p("patient", REFERENCE, "beneficiary", targets=PATIENT, doc="Plan beneficiary"),
        _p("beneficiary", REFERENCE, "beneficiary", doc="Plan beneficiary"),
        _p("payor", REFERENCE, "payor", doc="The identity of the insurer or party paying"),
        _p("status", TOKEN, "status", doc="active | cancelled | draft | entered-in-error"),
    ),
    "Group": (
        _p("member", REFERENCE, "member.entity", doc="Reference to the group member"),
        _p("type", TOKEN, "type", doc="The type of resources the group contains"),
        _p("identifier", TOKEN, "identifier", doc="Unique id"),
    ),
}


def params_for(resource_type: str) -> dict[str, SearchParam]:
    """The indexed search parameters of a resource type, by name (common ones included)."""
    return _BY_TYPE.get(resource_type, _COMMON_BY_NAME)


def searchable_types() -> tuple[str, ...]:
    """The resource types with search parameters of their own, in definition order."""
    return tuple(_DEFINITIONS)


_COMMON_BY_NAME = {p.name: p for p in COMMON}
_BY_TYPE = {rtype: {**_COMMON_BY_NAME, **{p.name: p for p in params}} for rtype, params in _DEFINITIONS.items()}

# Parameters answered from resource columns rather than index tables.
SPECIAL = {"_id": TOKEN, "_lastUpdated": DATE}

# Every search parameter has a kind; `uri` values are stored and matched like tokens without a system.
INDEX_TABLE = {TOKEN: "idx_token", URI: "idx_token", STRING: "idx_string", DATE: "idx_date",
               REFERENCE: "idx_reference"}
