#!/usr/bin/env python3
"""Prints each failed test of the given .trx files with the head of its message and stack trace."""
import sys
import xml.etree.ElementTree as ET

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}

for path in sys.argv[1:]:
    root = ET.parse(path).getroot()
    for result in root.iterfind(".//t:UnitTestResult", NS):
        if result.get("outcome") != "Failed":
            continue
        print(f"FAILED {result.get('testName')} ({result.get('duration')})")
        info = result.find("t:Output/t:ErrorInfo", NS)
        for field in ("Message", "StackTrace"):
            text = info.findtext(f"t:{field}", default="", namespaces=NS) if info is not None else ""
            lines = text.strip().splitlines()
            for line in lines[:25]:
                print(f"    {line}")
            if len(lines) > 25:
                print(f"    ... {len(lines) - 25} more lines")
