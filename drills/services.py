"""Re-exports the sub-domain modules for callers outside the package: drill records
(``drills.records``), corrective actions (``drills.actions``) and drill kinds, requirements
and compliance (``drills.requirements``). Code inside ``drills/`` imports those modules
directly; patch a name where it is used, in its own module, not here."""

from drills.actions import (
    OverdueGroup,
    actions_query,
    cancel_action,
    mark_done,
    move_due_date,
    orphaned_actions,
    overdue_by,
    start_action,
    verify_action,
)
from drills.checks import TEXT_MAX, TITLE_MAX
from drills.records import (
    DRILL_NEXT,
    FACT_FIELDS,
    AlreadyRecorded,
    FindingInput,
    add_finding,
    advance_drill,
    create_drill,
    drill_visible,
    evaluate_drill,
    update_drill,
)
from drills.requirements import (
    DUE_SOON_DAYS,
    ComplianceRow,
    RequirementInput,
    compliance,
    compliance_status,
    drill_kinds,
    next_due,
    save_drill_kind,
    set_requirements,
)

__all__ = [
    "DRILL_NEXT",
    "DUE_SOON_DAYS",
    "FACT_FIELDS",
    "TEXT_MAX",
    "TITLE_MAX",
    "AlreadyRecorded",
    "ComplianceRow",
    "FindingInput",
    "OverdueGroup",
    "RequirementInput",
    "actions_query",
    "add_finding",
    "advance_drill",
    "cancel_action",
    "compliance",
    "compliance_status",
    "create_drill",
    "drill_kinds",
    "drill_visible",
    "evaluate_drill",
    "mark_done",
    "move_due_date",
    "next_due",
    "orphaned_actions",
    "overdue_by",
    "save_drill_kind",
    "set_requirements",
    "start_action",
    "update_drill",
    "verify_action",
]
