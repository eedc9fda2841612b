"""One definition of an enrollment's live fields: the office's edits (hsm.classes.enrollments) and the import's
merge read the same constant; the import protects the status besides (an old file must not reopen an enrollment
that has ended since)."""

from __future__ import annotations

from hsm.classes import enrollments
from hsm.records import merge


def test_the_import_protects_the_live_fields_and_the_status_from_one_definition():
    assert enrollments.LIVE_FIELDS == ("classes_remaining", "next_due")
    assert enrollments.IMPORT_PROTECTED == (*enrollments.LIVE_FIELDS, "status")
    assert "status" in enrollments.DESCRIPTIVE_FIELDS  # the office may edit it; an import may not, unless asked
    assert not hasattr(merge, "ENROLLMENT_LIVE_FIELDS")  # no second definition
    assert set(enrollments.IMPORT_PROTECTED) <= set(merge.OVERWRITABLE)
