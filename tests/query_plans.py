"""Query plans as PostgreSQL gives them: every node of a plan, and the plans of the
statements a function runs inside it, as the runtime role (auto_explain)."""

from __future__ import annotations

import json

from as_user import acting_as


def nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def function_plans(db, user, sql, params, role="chat_test_app") -> list[dict]:
    """The plans of the statements a function runs, as ``role`` (the runtime role), from auto_explain."""
    logged = []
    db.add_notice_handler(lambda diag: logged.append(diag.message_primary))
    db.execute("load 'auto_explain'")
    for setting, value in [("auto_explain.log_min_duration", "0"), ("auto_explain.log_analyze", "on"),
                           ("auto_explain.log_buffers", "on"), ("auto_explain.log_nested_statements", "on"),
                           ("auto_explain.log_format", "json"), ("client_min_messages", "log")]:
        db.execute(f"set {setting} = '{value}'")
    db.execute(f"set role {role}")
    try:
        with acting_as(db, user):
            db.execute(sql, params).fetchall()
    finally:
        db.execute("reset role")
        db.execute("set client_min_messages = notice")
    # each auto_explain message is "duration: … ms  plan:" followed by the JSON plan
    return [json.loads(m[m.index("{"):])["Plan"] for m in logged if "plan:" in m]
