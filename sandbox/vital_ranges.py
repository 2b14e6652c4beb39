"""Adult ranges of vital signs: one table for the chart's shaded normal bands and the portal's High/Low flags.

Values are in the units the sandbox records (mmHg, /min, Cel, %, kg/m2). Children's ranges depend on age, so
neither the chart nor the portal applies these to readings taken before 18.
"""

from __future__ import annotations

import datetime as dt

from . import formatting as fmt

ADULT_AGE = 18


def adult_on(birth_date: str | None, day: dt.date) -> bool:
    """Whether adult ranges apply to a reading taken on ``day``; not when the birth date is unknown or partial."""
    born, _, precision = fmt.parse(birth_date)
    return precision == "day" and fmt.years_between(born, day) >= ADULT_AGE

# The normal range a clinician expects to see shaded (systolic per the 2017 ACC/AHA "normal").
NORMAL = {
    "systolic": (90, 120),
    "diastolic": (60, 80),
    "hr": (60, 100),
    "rr": (12, 20),
    "temp": (36.1, 37.2),
    "spo2": (95, 100),
    "bmi": (18.5, 25),
}

# Where a reading is flagged for a patient: the normal range, except where just above it is not yet "High" in
# everyday words (blood pressure is flagged from 140/90, as hypertension; temperature from a fever of 38).
FLAGGED = {
    "bp": ((90, 60), (140, 90)),  # (systolic, diastolic) low below, high at or above
    "hr": NORMAL["hr"],
    "rr": NORMAL["rr"],
    "temp": (35.0, 37.9),
    "spo2": (NORMAL["spo2"][0], None),
}
