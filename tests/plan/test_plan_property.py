"""Properties of the diff over generated graphs: a graph planned against the state that records
it (also after the state's JSON round trip) changes nothing; against no state, creates all."""

from __future__ import annotations

from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from mlinfra.ir.graph import Args, Call, Concat, Ref, Resource, ResourceGraph, build_graph
from mlinfra.plan.diff import plan, recorded_properties
from mlinfra.plan.model import CREATE, NO_OP
from mlinfra.state.model import ResourceState, State, loads

TYPES = ["local.Model", "local.FeatureGroup", "aws.s3.Bucket", "aws.sagemaker.Endpoint"]
KEYS = st.text("abcXYZ_:.-", min_size=1, max_size=6)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)


def values(earlier: list[str]):
    leaves = [SCALARS, st.builds(Call, st.sampled_from(["f", "g"]), st.tuples(st.text(max_size=3)))]
    if earlier:
        leaves.append(st.builds(Ref, st.sampled_from(earlier), st.sampled_from(["arn", "name"])))
    leaf = st.one_of(*leaves)
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(tuple),
            st.dictionaries(KEYS, inner, max_size=3).map(MappingProxyType),
            st.builds(
                Args,
                st.just("aws.X"),
                st.dictionaries(KEYS, inner, max_size=2).map(MappingProxyType),
            ),
            st.builds(
                Concat, st.lists(st.one_of(st.text(max_size=3), inner), max_size=3).map(tuple)
            ),
        ),
        max_leaves=6,
    )


@st.composite
def graphs(draw) -> ResourceGraph:
    resources: list[Resource] = []
    for index in range(draw(st.integers(0, 5))):
        earlier = [r.address for r in resources]
        properties = draw(st.dictionaries(KEYS, values(earlier), max_size=4))
        resources.append(
            Resource(
                f"thing.t{index}",
                draw(st.sampled_from(TYPES)),
                MappingProxyType(properties),
                None,
                replace_on_change=draw(st.booleans()),
                protect=draw(st.booleans()),
            )
        )
    return build_graph("p", "e", "local", "us-east-1", resources)


def state_from(graph: ResourceGraph) -> State:
    return State(
        "p",
        "e",
        serial=1,
        lineage="l",
        resources={
            r.address: ResourceState(
                r.type, recorded_properties(r), dependencies=r.dependencies(), protect=r.protect
            )
            for r in graph.resources
        },
    )


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_a_graph_against_the_state_recording_it_changes_nothing(graph: ResourceGraph) -> None:
    state = state_from(graph)
    for against in (state, loads(state.dumps(), "state.json")):
        found = plan(graph, against)
        assert [c.action for c in found.changes] == [NO_OP] * len(graph.resources)
        assert found.ok and not found.has_changes


@settings(max_examples=20, deadline=None)
@given(graphs())
def test_a_graph_against_no_state_is_all_creates(graph: ResourceGraph) -> None:
    found = plan(graph, State.empty("p", "e"))
    assert [c.action for c in found.changes] == [CREATE] * len(graph.resources)


@settings(max_examples=40, deadline=None)
@given(graphs(), st.data())
def test_a_property_the_state_has_and_the_spec_not_is_a_change_at_its_path(
    graph: ResourceGraph, data
) -> None:
    if not graph.resources:
        return
    resource = data.draw(st.sampled_from(graph.resources))
    state = state_from(graph)
    entry = state.get(resource.address)
    extra = {**entry.properties, "zz_extra": 1}
    changed = state.with_resource(
        resource.address, ResourceState(entry.type, extra, dependencies=entry.dependencies)
    )
    found = {c.address: c for c in plan(graph, changed).changes}
    assert found[resource.address].action != NO_OP
    assert any(c.path == "zz_extra" and c.before == 1 for c in found[resource.address].changed)
