"""Walking routes through the bins: distances along aisles and cross-aisles, order by a solver.

The floor is a rectilinear warehouse: parallel aisles run along x (metres from the dock), one
per y position (metres across), joined by cross-aisles at fixed x positions (the front and back
ends, optionally one in the middle). A picker cannot walk through shelving, so going from one
aisle to another means walking to a cross-aisle, along it, and into the other aisle. The depot
(where a picker starts and ends with the trolley) stands at the dock, in front of the front
cross-aisle.

The visiting order comes from OR-Tools' routing solver: a deterministic first solution
(path cheapest arc) improved by guided local search within a time limit. Bin-code order (what a
pick list sorted by location gives) is the baseline it is compared with.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

# Distances go to the solver as whole centimetres (it works with integer arc costs).
SOLVER_UNITS_PER_METRE = 100
# Guided local search keeps improving until its time limit, so a route always costs the whole
# limit: it grows with the stops, up to SOLVER_TIME_LIMIT_S. The solver reads the distances as
# a matrix of its own (no Python call per arc it weighs), so it searches several times faster
# than through a callback: on the demo warehouse (20 seeded batches each of 10, 20, 40 and 60
# tasks) 1 ms a stop found no longer route in any batch than the callback did in 5 ms a stop.
SOLVER_TIME_LIMIT_S = 1.0
SECONDS_PER_STOP = 0.001
# Cross-aisles lie this far beyond the first and last bay face (metres).
CROSS_AISLE_MARGIN_M = 1.0
# The dock: where pickers start and return (metres).
DOCK_X_M = 0.0
DOCK_Y_M = 0.0


@dataclass(frozen=True)
class Location:
    """A place to visit: a bin's code, its aisle and bay, and its floor position (metres)."""

    code: str
    aisle: int
    bay: int
    x: float
    y: float


@dataclass(frozen=True)
class Layout:
    """Cross-aisle positions along x and the depot; a depot in front of the first cross-aisle."""

    cross_aisles_x: tuple[float, ...]
    depot_x: float = DOCK_X_M
    depot_y: float = DOCK_Y_M

    def __post_init__(self) -> None:
        if not self.cross_aisles_x:
            raise ValueError("A layout needs at least one cross-aisle.")
        if self.depot_x > min(self.cross_aisles_x):
            raise ValueError("The depot must stand at or in front of the front cross-aisle.")


@dataclass(frozen=True)
class Route:
    """Locations in walking order (depot excluded) and the metres walked from and to the depot."""

    stops: tuple[Location, ...]
    length_m: float
    solve_seconds: float = 0.0


def layout_for(locations: Sequence[Location], *, middle_cross_aisle: bool = False) -> Layout:
    """Front and back cross-aisles just beyond the bins (and one halfway, if the floor has it)."""
    if not locations:
        return Layout(cross_aisles_x=(DOCK_X_M,))
    return floor_layout(
        min(loc.x for loc in locations),
        max(loc.x for loc in locations),
        middle_cross_aisle=middle_cross_aisle,
    )


def floor_layout(
    first_bay_x: float, last_bay_x: float, *, middle_cross_aisle: bool = False
) -> Layout:
    """The layout of a floor whose bay faces run from ``first_bay_x`` to ``last_bay_x``."""
    front = max(DOCK_X_M, first_bay_x - CROSS_AISLE_MARGIN_M)
    back = last_bay_x + CROSS_AISLE_MARGIN_M
    crossings = (front, (front + back) / 2, back) if middle_cross_aisle else (front, back)
    return Layout(cross_aisles_x=crossings)


def walking_distance(a: Location, b: Location, layout: Layout) -> float:
    """Metres between two bins: along the aisle if they share one, else via a cross-aisle."""
    if a.aisle == b.aisle:
        return abs(a.x - b.x) + abs(a.y - b.y)
    via = min(abs(a.x - c) + abs(b.x - c) for c in layout.cross_aisles_x)
    return via + abs(a.y - b.y)


def depot_distance(loc: Location, layout: Layout) -> float:
    """Metres from the depot to a bin: to the front cross-aisle, along it, into the aisle."""
    return abs(loc.x - layout.depot_x) + abs(loc.y - layout.depot_y)


def distance_matrix(locations: Sequence[Location], layout: Layout) -> list[list[float]]:
    """Metres between every pair; index 0 is the depot, i + 1 the i-th location."""
    n = len(locations)
    matrix = [[0.0] * (n + 1) for _ in range(n + 1)]
    for i, a in enumerate(locations, start=1):
        matrix[0][i] = matrix[i][0] = depot_distance(a, layout)
        for j in range(i + 1, n + 1):
            matrix[i][j] = matrix[j][i] = walking_distance(a, locations[j - 1], layout)
    return matrix


def route_length(stops: Sequence[Location], layout: Layout) -> float:
    """Metres walked from the depot through ``stops`` in the given order and back."""
    if not stops:
        return 0.0
    walked = depot_distance(stops[0], layout) + depot_distance(stops[-1], layout)
    for a, b in zip(stops, stops[1:], strict=False):
        walked += walking_distance(a, b, layout)
    return walked


def bin_code_route(locations: Sequence[Location], layout: Layout) -> Route:
    """The baseline: every location visited in bin-code order."""
    stops = tuple(sorted(locations, key=lambda loc: loc.code))
    return Route(stops=stops, length_m=route_length(stops, layout))


def time_limit_for(stops: int) -> float:
    """The solver's time limit for a route through ``stops`` bins (seconds)."""
    return min(SOLVER_TIME_LIMIT_S, SECONDS_PER_STOP * max(1, stops))


def solve_route(
    locations: Sequence[Location],
    layout: Layout,
    *,
    time_limit_s: float | None = None,
) -> Route:
    """The shortest walking order the routing solver finds within ``time_limit_s`` (by default
    :func:`time_limit_for` the number of stops).

    Several tasks in one bin are one stop: pass each bin once (``unique_locations``).
    """
    locations = list(locations)
    if time_limit_s is None:
        time_limit_s = time_limit_for(len(locations))
    if len(locations) <= 1:
        return Route(stops=tuple(locations), length_m=route_length(locations, layout))
    started = time.perf_counter()
    metres = distance_matrix(locations, layout)
    costs = [[round(d * SOLVER_UNITS_PER_METRE) for d in row] for row in metres]
    manager = pywrapcp.RoutingIndexManager(len(costs), 1, 0)
    routing = pywrapcp.RoutingModel(manager)
    transit = routing.RegisterTransitMatrix(costs)  # rows and columns in node order
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    parameters.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    parameters.time_limit.FromMilliseconds(max(1, round(time_limit_s * 1000)))
    solution = routing.SolveWithParameters(parameters)
    if solution is None:
        raise RuntimeError("The routing solver found no route.")
    order = []
    index = solution.Value(routing.NextVar(routing.Start(0)))
    while not routing.IsEnd(index):
        order.append(locations[manager.IndexToNode(index) - 1])
        index = solution.Value(routing.NextVar(index))
    return Route(
        stops=tuple(order),
        length_m=route_length(order, layout),
        solve_seconds=time.perf_counter() - started,
    )


def unique_locations(locations: Sequence[Location]) -> list[Location]:
    """Each bin once, in first-seen order (two tasks in one bin are one stop)."""
    seen: dict[str, Location] = {}
    for loc in locations:
        seen.setdefault(loc.code, loc)
    return list(seen.values())


def walking_path(stops: Sequence[Location], layout: Layout) -> list[tuple[float, float]]:
    """The corners a picker walks through (x, y), depot to depot: along aisles and cross-aisles."""
    if not stops:
        return []
    depot = (layout.depot_x, layout.depot_y)
    front = min(layout.cross_aisles_x)
    path = [depot, (front, layout.depot_y), (front, stops[0].y), (stops[0].x, stops[0].y)]
    for a, b in zip(stops, stops[1:], strict=False):
        if a.aisle != b.aisle:
            crossing = min(layout.cross_aisles_x, key=lambda c: abs(a.x - c) + abs(b.x - c))
            path += [(crossing, a.y), (crossing, b.y)]
        path.append((b.x, b.y))
    last = stops[-1]
    path += [(front, last.y), (front, layout.depot_y), depot]
    # Drop repeated corners (a stop straight on a cross-aisle, say).
    return [p for i, p in enumerate(path) if i == 0 or p != path[i - 1]]
