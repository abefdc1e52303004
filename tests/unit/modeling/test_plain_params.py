"""Model classes take plain parameters (scikit-learn style); pipelines turn a config into them."""

from __future__ import annotations

import pickle

from memberwise.config import EventsConfig, PersonasConfig, RNNConfig
from memberwise.modeling.forecaster import RNNForecaster
from memberwise.modeling.personas import PersonaModel


def test_every_config_field_is_a_constructor_parameter() -> None:
    rnn = RNNConfig(input_weeks=30, epochs=3, seed=5)
    model = RNNForecaster(**rnn.model_dump(), events=EventsConfig(member_days=[18]))
    assert {k: getattr(model, k) for k in rnn.model_dump()} == rnn.model_dump()
    personas = PersonasConfig(k_min=2, k_max=4)
    fields = personas.model_dump(exclude={"gate"})
    assert {k: getattr(PersonaModel(**fields), k) for k in fields} == fields


def test_a_forecaster_pickled_with_an_rnn_config_still_loads() -> None:
    """Versions registered before the plain parameters held an RNNConfig under `rnn`."""
    old = RNNForecaster.__new__(RNNForecaster)
    old.__dict__.update({"rnn": RNNConfig(input_weeks=40, epochs=2), "events": EventsConfig()})
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded.input_weeks == 40 and loaded.epochs == 2 and not hasattr(loaded, "rnn")
    fresh = pickle.loads(pickle.dumps(RNNForecaster(input_weeks=20)))
    assert fresh.input_weeks == 20
