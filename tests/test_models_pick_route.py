"""Walking routes: rectilinear distances on a hand-made floor, and the solver on the demo floor."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from data.demo.scales import SCALES
from data.demo.world import build_world
from models.pick_route import (
    SOLVER_TIME_LIMIT_S,
    Layout,
    Location,
    bin_code_route,
    depot_distance,
    distance_matrix,
    layout_for,
    route_length,
    solve_route,
    time_limit_for,
    unique_locations,
    walking_distance,
    walking_path,
)

# Two aisles 4 m apart (y = 0 and y = 4), cross-aisles at both ends (x = 0 and x = 10), the
# depot at the front corner. Codes sort aisle by aisle, front to back: A, B, then D, C.
A = Location("01-02", aisle=1, bay=2, x=2.0, y=0.0)
B = Location("01-08", aisle=1, bay=8, x=8.0, y=0.0)
C = Location("02-09", aisle=2, bay=9, x=9.0, y=4.0)
D = Location("02-03", aisle=2, bay=3, x=3.0, y=4.0)
FLOOR = Layout(cross_aisles_x=(0.0, 10.0), depot_x=0.0, depot_y=0.0)


def test_same_aisle_is_walked_straight_along_it():
    assert walking_distance(A, B, FLOOR) == 6.0


def test_changing_aisles_goes_round_by_the_nearer_cross_aisle():
    # B (x 8) to C (x 9): out to the back cross-aisle (2 + 1) and across (4), not through shelves.
    assert walking_distance(B, C, FLOOR) == 7.0
    # A (x 2) to D (x 3): via the front (2 + 3) and across (4).
    assert walking_distance(A, D, FLOOR) == 9.0
    # B (x 8) to D (x 3): front 8 + 3 = 11, back 2 + 7 = 9; plus 4 across.
    assert walking_distance(B, D, FLOOR) == 13.0


def test_a_middle_cross_aisle_shortens_a_change_of_aisle_halfway_down():
    middle = Layout(cross_aisles_x=(0.0, 5.0, 10.0))
    e = Location("01-05", aisle=1, bay=5, x=5.0, y=0.0)
    f = Location("02-05", aisle=2, bay=5, x=5.0, y=4.0)
    assert walking_distance(e, f, FLOOR) == 14.0  # 5 to an end, 4 across, 5 back
    assert walking_distance(e, f, middle) == 4.0


def test_depot_distance_and_matrix_are_symmetric():
    assert depot_distance(C, FLOOR) == 13.0
    matrix = distance_matrix([A, B, C, D], FLOOR)
    assert matrix[0][1:] == [2.0, 8.0, 13.0, 7.0]
    assert all(matrix[i][j] == matrix[j][i] for i in range(5) for j in range(5))


def test_bin_code_order_on_the_hand_made_floor():
    baseline = bin_code_route([C, A, D, B], FLOOR)
    assert [s.code for s in baseline.stops] == ["01-02", "01-08", "02-03", "02-09"]
    # depot-A 2, A-B 6, B-D 13, D-C 6, C-depot 13
    assert baseline.length_m == 40.0


def test_solver_finds_the_shortest_route_by_hand():
    route = solve_route([C, A, D, B], FLOOR, time_limit_s=0.2)
    # depot-A 2, A-B 6, B-C 7, C-D 6, D-depot 7 (or the same loop the other way round)
    assert route.length_m == 28.0
    assert [s.code for s in route.stops] in (
        ["01-02", "01-08", "02-09", "02-03"],
        ["02-03", "02-09", "01-08", "01-02"],
    )
    assert route_length(route.stops, FLOOR) == 28.0


def test_small_batches_need_no_solver():
    assert solve_route([], FLOOR).length_m == 0.0
    assert solve_route([C], FLOOR).length_m == 26.0


def test_layout_for_puts_cross_aisles_just_beyond_the_bins():
    layout = layout_for([A, B, C, D])
    assert layout.cross_aisles_x == (1.0, 10.0)
    assert layout_for([A, B], middle_cross_aisle=True).cross_aisles_x == (1.0, 5.0, 9.0)


def test_a_depot_behind_the_front_cross_aisle_is_refused():
    with pytest.raises(ValueError, match="front cross-aisle"):
        Layout(cross_aisles_x=(2.0, 10.0), depot_x=5.0)


def test_two_tasks_in_one_bin_are_one_stop():
    assert unique_locations([A, B, A, C]) == [A, B, C]


# --- the demo warehouse ----------------------------------------------------------------------


def demo_floor() -> tuple[list[Location], np.ndarray]:
    """Every bin of the default demo warehouse (seeded as ``data.demo.generate`` does)."""
    world_seed = np.random.SeedSequence([7, len("default")]).spawn(3)[0]
    w = build_world(SCALES["default"], np.random.default_rng(world_seed))
    bins = [
        Location(code, int(aisle), int(bay), float(x), float(y))
        for code, aisle, bay, x, y in zip(
            w.bin_code, w.bin_aisle, w.bin_bay, w.bin_x, w.bin_y, strict=True
        )
    ]
    weights = w.popularity / w.popularity.sum()
    return [bins[b] for b in w.bin], weights


@pytest.fixture(scope="module")
def floor():
    return demo_floor()


def batch(floor, size: int, seed: int) -> list[Location]:
    """``size`` pick tasks drawn like real demand (busy products more often), each bin once."""
    product_bins, weights = floor
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(product_bins), size=size, replace=True, p=weights)
    return unique_locations([product_bins[p] for p in picks])


@pytest.mark.parametrize("size", [10, 20, 40])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_solver_route_is_never_longer_than_bin_code_order(floor, size, seed):
    stops = batch(floor, size, seed)
    layout = layout_for([loc for loc in floor[0]])
    baseline = bin_code_route(stops, layout)
    route = solve_route(stops, layout)  # the default time limit, as the bench uses
    assert sorted(s.code for s in route.stops) == sorted(s.code for s in stops)
    assert route.length_m <= baseline.length_m + 1e-9, (route.length_m, baseline.length_m)
    assert route.length_m == pytest.approx(route_length(route.stops, layout))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_within_its_default_time_the_solver_finds_the_shortest_walk_of_a_small_batch(floor, seed):
    """Seven stops on the demo floor, every order of them tried: none is shorter."""
    stops = batch(floor, 8, 700 + seed)[:7]
    assert len(stops) == 7
    layout = layout_for([loc for loc in floor[0]])
    shortest = min(route_length(order, layout) for order in itertools.permutations(stops))
    route = solve_route(stops, layout)
    assert route.length_m == pytest.approx(shortest)


def test_the_solver_s_time_grows_with_the_stops_up_to_its_limit():
    assert time_limit_for(10) == pytest.approx(0.01)
    assert time_limit_for(40) == pytest.approx(0.04)
    assert time_limit_for(0) == time_limit_for(1) == pytest.approx(0.001)
    assert time_limit_for(10_000) == SOLVER_TIME_LIMIT_S


def test_walking_path_turns_only_at_cross_aisles_and_has_the_route_length():
    stops = solve_route([C, A, D, B], FLOOR, time_limit_s=0.2).stops
    path = walking_path(stops, FLOOR)
    assert path[0] == path[-1] == (0.0, 0.0)
    # Every leg runs along x or along y, never diagonally through shelves.
    assert all(p[0] == q[0] or p[1] == q[1] for p, q in zip(path, path[1:], strict=False))
    walked = sum(abs(p[0] - q[0]) + abs(p[1] - q[1]) for p, q in zip(path, path[1:], strict=False))
    assert walked == route_length(stops, FLOOR) == 28.0
    # A change of aisle (y) happens only on a cross-aisle (x = 0 or 10).
    assert all(p[0] in (0.0, 10.0) for p, q in zip(path, path[1:], strict=False) if p[1] != q[1])
