"""Make ``ucum_scales.json``: the UCUM prefixes and which unit atoms take them, from the UCUM essence.

Source: ``ucum-essence.xml`` of the Unified Code for Units of Measure, version 2.2 (revision date 2024-06-17),
https://github.com/ucum-org/ucum, copyright Regenstrief Institute, Inc., used under the UCUM License
(https://ucum.org/license). Read from it: every ``<prefix>`` (its case-sensitive code and factor), every
``<base-unit>`` (all metric) and every ``<unit>`` with its ``isMetric`` flag. The store compares quantities whose
UCUM codes differ only by a metric prefix (mg and g, mmol/L and umol/L) in the unit without prefixes.

Nothing is typed by hand: run it again on the same file and the output is the same, byte for byte.

    python seed_data/ucum/make_ucum_scales.py ucum-essence.xml [OUTPUT]
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

SOURCE = {
    "file": "ucum-essence.xml",
    "repository": "https://github.com/ucum-org/ucum",
    "licence": "UCUM License (https://ucum.org/license), copyright Regenstrief Institute, Inc.",
    "madeBy": "seed_data/ucum/make_ucum_scales.py",
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def scales(root: ET.Element) -> dict:
    prefixes, metric, other = {}, [], []
    for element in root:
        kind = _local(element.tag)
        if kind == "prefix":
            prefixes[element.get("Code")] = next(e for e in element if _local(e.tag) == "value").get("value")
        elif kind == "base-unit":
            metric.append(element.get("Code"))
        elif kind == "unit":
            (metric if element.get("isMetric") == "yes" else other).append(element.get("Code"))
    source = {**SOURCE, "version": root.get("version"), "revisionDate": root.get("revision-date")}
    return {"source": source, "prefixes": prefixes, "metricAtoms": sorted(metric), "otherAtoms": sorted(other)}


def main(argv: list[str]) -> None:
    if len(argv) not in (2, 3):
        raise SystemExit(__doc__)
    output = Path(argv[2]) if len(argv) == 3 else Path(__file__).with_name("ucum_scales.json")
    table = scales(ET.parse(argv[1]).getroot())
    output.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv)
