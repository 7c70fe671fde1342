"""The API dialect of runbooks (openhands_driver/brain/api_steps.py) and the runbook brain in API
mode: it follows a skill's API sections when the tools it is offered have no terminal."""

from __future__ import annotations

import json
import unittest

from openhands_driver.brain import api_steps
from openhands_driver.brain.policy import Finish, ToolCall, decide
from openhands_driver.brain.runbook import parse_runbook

OUT_FLAGS = 'HTTP 200\n{"flags": [{"name": "cartFailure", "source": "etc/flags.json"}]}'
OUT_EMPTY = 'HTTP 200\n{"flags": []}'
SKILL = """---
name: demo
---
## Diagnose
```bash
python3 diagnose.py
```
## Diagnose (API)
```api
GET /ops/flags?affecting=true
require flags.0.name
report feature_flag {{flags.0.name}}
```
## Remediate (API)
```api
POST /ops/flags {"flag": "{{flags.0.name}}", "defaultVariant": "off"}
```
"""
API_TOOLS = [{"type": "function", "function": {"name": n}} for n in ("call_ops_endpoint", "invoke_skill", "finish")]


class ApiStepsTests(unittest.TestCase):
    def test_lines_become_tool_calls(self) -> None:
        self.assertEqual(api_steps.to_call("GET /ops/status"),
                         ("call_ops_endpoint", {"method": "GET", "path": "/ops/status"}))
        self.assertEqual(api_steps.to_call('POST /ops/scale {"replicas": 2}'),
                         ("call_ops_endpoint", {"method": "POST", "path": "/ops/scale", "body": {"replicas": 2}}))
        self.assertEqual(api_steps.to_call('TOOL scale_service {"replicas": 1}'), ("scale_service", {"replicas": 1}))
        with self.assertRaises(ValueError):
            api_steps.to_call("rm -rf /")

    def test_placeholders_require_and_report(self) -> None:
        outputs = [OUT_EMPTY, OUT_FLAGS]
        self.assertEqual(api_steps.resolve('{"flag": "{{flags.0.name}}"}', outputs), '{"flag": "cartFailure"}')
        self.assertIsNone(api_steps.resolve("{{flags.3.name}}", outputs))
        self.assertTrue(api_steps.check("require flags.0.name", outputs))
        self.assertFalse(api_steps.check("require flags.0.name", [OUT_EMPTY]))
        self.assertTrue(api_steps.check('require flags.0.source == "etc/flags.json"', outputs))
        self.assertFalse(api_steps.check("require flags.0.source != \"etc/flags.json\"", outputs))
        self.assertEqual(api_steps.report("report feature_flag {{flags.0.name}}", outputs)["entity"], "cartFailure")
        self.assertEqual(api_steps.exit_code("HTTP 404\n{}"), 1)
        self.assertEqual(api_steps.exit_code("HTTP 200\n{}"), 0)
        self.assertEqual(api_steps.exit_code("REFUSED: no"), 1)

    def test_dialects_read_their_own_blocks(self) -> None:
        self.assertEqual(parse_runbook(SKILL).diagnose, ("python3 diagnose.py",))
        api = parse_runbook(SKILL, "api")
        self.assertEqual(api.diagnose[0], "GET /ops/flags?affecting=true")
        self.assertEqual(len(api.remediate), 1)


class BrainInApiModeTests(unittest.TestCase):
    def conversation(self, *results: tuple[str, dict, str]) -> list[dict]:
        messages = [{"role": "system", "content": "<available_skills><skill><name>demo</name><description>"
                     "Signals: evaluated to variant</description></skill></available_skills>"},
                    {"role": "user", "content": "# Incident\nRunbook skill: demo\n"}]
        for i, (name, arguments, output) in enumerate(results):
            messages.append({"role": "assistant", "tool_calls": [{"id": f"c{i}", "function": {
                "name": name, "arguments": json.dumps(arguments)}}]})
            messages.append({"role": "tool", "tool_call_id": f"c{i}", "content": output})
        return messages

    def test_no_terminal_offered_means_api_steps(self) -> None:
        first = decide(self.conversation(), tools=API_TOOLS)
        self.assertEqual(first, ToolCall("invoke_skill", {"name": "demo", "summary": "load the demo runbook skill"}))
        step = decide(self.conversation(("invoke_skill", {"name": "demo"}, SKILL)), tools=API_TOOLS)
        self.assertEqual((step.name, step.arguments["path"]), ("call_ops_endpoint", "/ops/flags?affecting=true"))
        fix = decide(self.conversation(("invoke_skill", {"name": "demo"}, SKILL),
                                       ("call_ops_endpoint", {"method": "GET", "path": "/ops/flags?affecting=true"},
                                        OUT_FLAGS)), tools=API_TOOLS)
        self.assertEqual(fix.arguments["body"], {"flag": "cartFailure", "defaultVariant": "off"})
        verify = decide(self.conversation(("invoke_skill", {"name": "demo"}, SKILL),
                                          ("call_ops_endpoint", {"method": "GET", "path": "/ops/flags?affecting=true"},
                                           OUT_FLAGS),
                                          ("call_ops_endpoint", fix.arguments, "HTTP 200\n{}")), tools=API_TOOLS)
        self.assertEqual(verify.arguments["path"], "/ops/health?wait_s=10")
        done = decide(self.conversation(("invoke_skill", {"name": "demo"}, SKILL),
                                        ("call_ops_endpoint", {"method": "GET", "path": "/ops/flags?affecting=true"},
                                         OUT_FLAGS),
                                        ("call_ops_endpoint", fix.arguments, "HTTP 200\n{}"),
                                        ("call_ops_endpoint", verify.arguments, 'HTTP 200\n{"healthy": true}')),
                      tools=API_TOOLS)
        self.assertIsInstance(done, Finish)
        self.assertIn('"entity": "cartFailure"', done.message)

    def test_absent_fault_is_not_remediated(self) -> None:
        done = decide(self.conversation(("invoke_skill", {"name": "demo"}, SKILL),
                                        ("call_ops_endpoint", {"method": "GET", "path": "/ops/flags?affecting=true"},
                                         OUT_EMPTY)), tools=API_TOOLS)
        self.assertIsInstance(done, Finish)
        self.assertIn("found no fault", done.message)

    def test_with_a_terminal_the_shell_steps_are_followed(self) -> None:
        tools = API_TOOLS + [{"type": "function", "function": {"name": "terminal"}}]
        step = decide(self.conversation(("invoke_skill", {"name": "demo"}, SKILL)), tools=tools)
        self.assertEqual((step.name, step.arguments["command"]), ("terminal", "python3 diagnose.py"))


if __name__ == "__main__":
    unittest.main()
