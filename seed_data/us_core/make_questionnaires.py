"""Make ``questionnaires.json`` from the Questionnaires published with US Core 6.1.0.

Source: HL7 FHIR US Core Implementation Guide 6.1.0 (https://hl7.org/fhir/us/core/STU6.1/), licensed CC0 1.0
(https://hl7.org/fhir/us/core/STU6.1/license.html): its example Questionnaires for the PHQ-9 depression screen
(LOINC 44249-1) and the Hunger Vital Sign food-insecurity screen (LOINC 88121-9), whose items and answers are
LOINC codes. They are read from the package ``hl7.fhir.us.core#6.1.0`` (its ``package/`` folder) or from the
``input/examples/`` folder of https://github.com/HL7/US-Core at tag ``6.1.0``. The narrative (``text``) is left
out, since the sandbox writes its own; everything else is kept as published.

    python seed_data/us_core/make_questionnaires.py EXAMPLES [OUTPUT]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FILES = {"phq-9": "Questionnaire-phq-9-example.json", "hunger-vital-sign": "Questionnaire-hunger-vital-sign-example.json"}
SOURCE = {
    "implementationGuide": "http://hl7.org/fhir/us/core/ImplementationGuide/hl7.fhir.us.core",
    "version": "6.1.0",
    "files": sorted(FILES.values()),
    "repository": "https://github.com/HL7/US-Core (tag 6.1.0, input/examples/)",
    "licence": "CC0 1.0 (https://hl7.org/fhir/us/core/STU6.1/license.html)",
    "madeBy": "seed_data/us_core/make_questionnaires.py",
}


def main(argv: list[str]) -> None:
    if len(argv) not in (2, 3):
        raise SystemExit(__doc__)
    folder = Path(argv[1])
    output = Path(argv[2]) if len(argv) == 3 else Path(__file__).with_name("questionnaires.json")
    questionnaires = {}
    for key, name in FILES.items():
        published = json.loads((folder / name).read_text(encoding="utf-8"))
        published.pop("text", None)
        questionnaires[key] = published
    output.write_text(json.dumps({"source": SOURCE, "questionnaires": questionnaires}, indent=1,
                                 ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv)
