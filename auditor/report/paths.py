"""The picture of who reaches an asset: principal -> hops -> asset, laid out for inline SVG.

Only geometry and text are computed here; the template draws them, so every label goes
through autoescaping like any other text on the page. Boxes have a fixed width and labels are
shortened to fit it (monospace text, so the width is known without a font engine); the full
text stays in each box's <title>, which browsers show on hover.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from auditor.access.model import AccessGrant
from auditor.findings import ResourceRef

# layout, in SVG user units (the picture scales to the page width)
BOX_WIDTH = 196
BOX_HEIGHT = 36
ROW_HEIGHT = 46
GAP = 124  # room for an action label between two boxes
LABEL_CHARS = 29  # of 11px monospace text in a box
SUBLABEL_CHARS = 32  # of 10px text
EDGE_CHARS = 19  # of 10px text between boxes
MARGIN = 4
# a picture is a summary: the table under it lists every grant
MAX_ROWS = 12
MAX_PRINCIPALS = 4  # per row, before the asset; longer chains keep their two ends

_AWS_ARN = re.compile(r"^arn:aws[\w-]*:(?P<service>[^:]*):[^:]*:(?P<account>[^:]*):(?P<rest>.+)$")
_GCP_MEMBER = re.compile(r"^(?P<kind>[a-zA-Z]+):(?P<rest>.+)$")
_PRIORITY = {"public": 0, "external": 1, "human": 2, "other": 3}


@dataclass(frozen=True, slots=True)
class Box:
    x: int
    y: int
    label: str
    sublabel: str
    title: str  # the whole text, shown on hover
    tone: str  # public, external, human, other or asset: a CSS class


@dataclass(frozen=True, slots=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int
    label: str
    title: str
    conditional: bool


@dataclass(frozen=True, slots=True)
class PathPicture:
    width: int
    height: int
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]
    shown: int  # distinct paths drawn
    total: int  # distinct paths there are

    @property
    def box_width(self) -> int:
        return BOX_WIDTH

    @property
    def box_height(self) -> int:
        return BOX_HEIGHT


def shorten(text: str, limit: int) -> str:
    """Keep the end of long text: ARNs and member names differ at their end, not their start."""
    return text if len(text) <= limit else "\u2026" + text[-(limit - 1):]


def principal_labels(principal: str, kind: str) -> tuple[str, str]:
    """What a box says: a short name, and the account and kind under it."""
    if principal in ("*", "allUsers"):
        return "anyone", f"{principal} (public)"
    if principal == "allAuthenticatedUsers":
        return "any Google account", "allAuthenticatedUsers (public)"
    arn = _AWS_ARN.match(principal)
    if arn:
        if arn["rest"] == "root":
            # another account's root stands for the account; one's own is the root user
            owner = "account" if kind == "external-account" else "root user"
            return f"{owner} {arn['account']}", kind
        return arn["rest"], f"{arn['account']} \u00b7 {kind}" if arn["account"] else kind
    member = _GCP_MEMBER.match(principal)
    if member:
        return member["rest"], member["kind"]
    return principal, kind


def tone(grant: AccessGrant) -> str:
    if grant.public:
        return "public"
    if grant.external:
        return "external"
    return "human" if grant.human else "other"


@dataclass(frozen=True, slots=True)
class _Hop:
    principal: str
    via: str  # the action that leads from this principal to the next box


def hops(grant: AccessGrant) -> tuple[_Hop, ...]:
    """The principals a grant passes through, in order, each with the action that leaves it.

    Consecutive steps by one principal are several policies allowing the same move (an
    identity policy and a bucket policy, say): one hop. The last hop leaves by the grant's own
    action, onto the asset.
    """
    principals = [grant.principal]
    leaving: dict[int, str] = {}
    for step in grant.path:
        if step.principal != principals[-1]:
            principals.append(step.principal)
        # the action by which a principal moves on is its last step before the next principal
        leaving[len(principals) - 1] = step.action
    chain = []
    for index, principal in enumerate(principals):
        last = index == len(principals) - 1
        chain.append(_Hop(principal, grant.action if last else leaving.get(index, "")))
    return tuple(chain)


def _trimmed(chain: tuple[_Hop, ...]) -> tuple[_Hop | None, ...]:
    """At most MAX_PRINCIPALS boxes: the start, a marker for what was left out, the end."""
    if len(chain) <= MAX_PRINCIPALS:
        return chain
    return (*chain[:MAX_PRINCIPALS - 2], None, chain[-1])


def access_picture(resource: ResourceRef, grants: list[AccessGrant] | tuple[AccessGrant, ...],
                   ) -> PathPicture | None:
    """The distinct paths of ``grants`` onto ``resource``, worst first; None when there are none."""
    rows: dict[tuple[object, ...], tuple[AccessGrant, tuple[_Hop, ...]]] = {}
    for grant in grants:
        chain = hops(grant)
        key = (grant.decision, *((h.principal, h.via) for h in chain))
        rows.setdefault(key, (grant, chain))
    if not rows:
        return None
    ordered = sorted(rows.values(), key=lambda row: (_PRIORITY[tone(row[0])], row[0].principal,
                                                     [(h.principal, h.via) for h in row[1]]))
    shown = ordered[:MAX_ROWS]
    columns = max(len(_trimmed(chain)) for _, chain in shown)
    asset_x = MARGIN + columns * (BOX_WIDTH + GAP)
    height = 2 * MARGIN + len(shown) * ROW_HEIGHT - (ROW_HEIGHT - BOX_HEIGHT)
    asset_y = (height - BOX_HEIGHT) // 2
    boxes: list[Box] = []
    edges: list[Edge] = []
    for row, (grant, chain) in enumerate(shown):
        y = MARGIN + row * ROW_HEIGHT
        trimmed = _trimmed(chain)
        for column, hop in enumerate(trimmed):
            x = MARGIN + column * (BOX_WIDTH + GAP)
            boxes.append(_principal_box(grant, hop, x, y, len(chain) - MAX_PRINCIPALS + 1))
            last = column == len(trimmed) - 1
            # the last principal of a short chain reaches across the empty columns to the asset
            x2, y2 = (asset_x, asset_y + BOX_HEIGHT // 2) if last else (x + BOX_WIDTH + GAP,
                                                                         y + BOX_HEIGHT // 2)
            via = hop.via if hop is not None else ""
            edges.append(Edge(x + BOX_WIDTH, y + BOX_HEIGHT // 2, x2, y2,
                              label=shorten(via, EDGE_CHARS),
                              title=f"{via} ({grant.decision})" if last else via,
                              conditional=last and grant.decision == "conditional"))
    name = resource.name or resource.id
    boxes.append(Box(asset_x, asset_y, shorten(name, LABEL_CHARS),
                     shorten(resource.type, SUBLABEL_CHARS), resource.id, "asset"))
    return PathPicture(width=asset_x + BOX_WIDTH + MARGIN, height=height, boxes=tuple(boxes),
                       edges=tuple(edges), shown=len(shown), total=len(ordered))


def _principal_box(grant: AccessGrant, hop: _Hop | None, x: int, y: int, left_out: int) -> Box:
    if hop is None:
        return Box(x, y, f"\u2026 {left_out} more hops", "", "hops left out of the picture",
                   "other")
    first = hop.principal == grant.principal
    # only the first box is the grant's principal; the kind of later hops is not recorded
    label, sublabel = principal_labels(hop.principal, grant.kind if first else "hop")
    return Box(x, y, shorten(label, LABEL_CHARS), shorten(sublabel, SUBLABEL_CHARS),
               hop.principal, tone(grant) if first else "other")
