"""The access-path picture: hops, labels and a layout that fits its box."""

from __future__ import annotations

import pytest

from auditor.access.model import AccessGrant, PathStep
from auditor.findings import ResourceRef
from auditor.report.paths import (
    BOX_HEIGHT,
    BOX_WIDTH,
    LABEL_CHARS,
    MAX_PRINCIPALS,
    MAX_ROWS,
    access_picture,
    hops,
    principal_labels,
    shorten,
)

BUCKET = ResourceRef("arn:aws:s3:::acme-weights", "aws.s3.bucket", "acme-weights", "aws",
                     "111122223333", "us-east-1")
ALICE = "arn:aws:iam::111122223333:user/alice"
ROLE = "arn:aws:iam::111122223333:role/trainer"
VENDOR = "arn:aws:iam::444455556666:root"


def grant(principal: str, *steps: tuple[str, str], kind: str = "user", human: bool | None = False,
          decision: str = "allow") -> AccessGrant:
    return AccessGrant(principal, kind, human, "read", "s3:GetObject", decision,  # type: ignore[arg-type]
                       path=tuple(PathStep(p, a, f"{p}#policy", "S") for p, a in steps))


def test_steps_by_one_principal_are_one_hop() -> None:
    # an identity policy, the bucket policy and the key policy all allow alice's read
    chain = hops(grant(ALICE, (ALICE, "s3:GetObject"), (ALICE, "s3:GetObject"),
                       (ALICE, "kms:Decrypt")))
    assert [(h.principal, h.via) for h in chain] == [(ALICE, "s3:GetObject")]


def test_a_role_chain_names_the_action_of_each_move() -> None:
    chain = hops(grant(VENDOR, (VENDOR, "sts:AssumeRole"), (ROLE, "s3:GetObject"),
                       kind="external-account"))
    assert [(h.principal, h.via) for h in chain] == [(VENDOR, "sts:AssumeRole"),
                                                     (ROLE, "s3:GetObject")]


def test_a_grant_without_a_path_goes_straight_to_the_asset() -> None:
    assert [(h.principal, h.via) for h in hops(grant("*", kind="public"))] == [("*", "s3:GetObject")]


@pytest.mark.parametrize(("principal", "kind", "expected"), [
    ("*", "public", ("anyone", "* (public)")),
    ("allUsers", "public", ("anyone", "allUsers (public)")),
    ("allAuthenticatedUsers", "public", ("any Google account", "allAuthenticatedUsers (public)")),
    (VENDOR, "external-account", ("account 444455556666", "external-account")),
    ("arn:aws:iam::111122223333:root", "user", ("root user 111122223333", "user")),
    (ROLE, "role", ("role/trainer", "111122223333 \u00b7 role")),
    ("serviceAccount:etl@acme.iam.gserviceaccount.com", "service-account",
     ("etl@acme.iam.gserviceaccount.com", "serviceAccount")),
    ("something else", "service", ("something else", "service")),
])
def test_principal_labels(principal: str, kind: str, expected: tuple[str, str]) -> None:
    assert principal_labels(principal, kind) == expected


def test_long_text_keeps_its_end() -> None:
    assert shorten("abc", 5) == "abc"
    assert shorten("arn:aws:iam::111122223333:role/a-very-long-role-name", 12) == "\u2026g-role-name"
    assert len(shorten("x" * 100, LABEL_CHARS)) == LABEL_CHARS


def test_the_most_exposed_paths_come_first_and_are_counted() -> None:
    grants = [grant(f"arn:aws:iam::111122223333:user/u{i:02d}", human=True) for i in range(20)]
    grants += [grant(VENDOR, kind="external-account"), grant("*", kind="public")]
    picture = access_picture(BUCKET, grants)
    assert picture is not None
    assert (picture.shown, picture.total) == (MAX_ROWS, 22)
    tones = [b.tone for b in picture.boxes]
    assert tones[:3] == ["public", "external", "human"] and tones[-1] == "asset"


def test_identical_paths_are_drawn_once() -> None:
    picture = access_picture(BUCKET, [grant(ALICE), grant(ALICE)])
    assert picture is not None and picture.total == 1


def test_every_box_and_edge_fits_the_picture() -> None:
    chain = [(VENDOR, "sts:AssumeRole")] + [
        (f"arn:aws:iam::111122223333:role/r{i}", "sts:AssumeRole") for i in range(6)]
    grants = [grant(VENDOR, *chain, kind="external-account", decision="conditional"),
              grant(ALICE, (ALICE, "s3:GetObject"), human=True)]
    picture = access_picture(BUCKET, grants)
    assert picture is not None
    for box in picture.boxes:
        assert box.x >= 0 and box.x + BOX_WIDTH <= picture.width
        assert box.y >= 0 and box.y + BOX_HEIGHT <= picture.height
        assert len(box.label) <= LABEL_CHARS
    for edge in picture.edges:
        assert edge.x1 < edge.x2 <= picture.width and min(edge.y1, edge.y2) >= 0
    # a long chain keeps its ends and says how much was left out
    first_row = [b for b in picture.boxes if b.y == picture.boxes[0].y and b.tone != "asset"]
    assert len(first_row) == MAX_PRINCIPALS
    assert "more hops" in first_row[-2].label and first_row[0].title == VENDOR
    # the last move of a conditional grant is drawn dashed; no other edge is
    assert [e.conditional for e in picture.edges].count(True) == 1


def test_no_reader_no_picture() -> None:
    assert access_picture(BUCKET, []) is None
