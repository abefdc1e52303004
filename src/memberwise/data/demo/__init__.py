"""A seeded, realistic demo brand with planted ground truth, written in the data contract.

People (not accounts) are simulated: each has a latent persona, an acquisition date, a lapse date
and a purchase rate. Purchases follow a Poisson process modulated by weekly seasonality and
promotion peaks (618, Double 11, Double 12, Chinese New Year, Mid-Autumn) while the person is alive.
Each person holds accounts in one or more of six channels, linked by phone hash, WeChat unionid
and member card (some have none; a few store phones are "hubs" typed for many customers).
Campaigns touch treatment/control groups with uplift depending on audience and strategy.

The ground truth goes to `<out>/truth/`, never into the contract tables: the person behind each
account, personas, true purchase probabilities, the true uplift per audience x strategy.
Generation is chunked over people so 1M members / 10M+ orders fit in memory and run in minutes.

`DemoConfig.profile` picks a brand from the zoo (`profiles.PROFILES`): the same generator with other
parameters (one channel, one cohort, grocery, short history, a regime change, smooth seasonal sales).

Modules, one job each: `config` (what to generate), `profiles` (the zoo), `brand` (the planted
parameters), `people` (latent people and the season), `accounts`, `activity` (orders, interactions),
`campaigns`, `loyalty` (cards, KPI targets), `chunk`, `writer`, `truth`, `dirty` and `generate`.
"""

from memberwise.data.demo.brand import COST_COMMUNICATION, COST_DELIVERY, COST_PROMOTION, PERSONAS
from memberwise.data.demo.campaigns import true_uplift, uplift_table
from memberwise.data.demo.config import DemoConfig
from memberwise.data.demo.generate import generate
from memberwise.data.demo.profiles import PROFILES, Profile
from memberwise.data.demo.truth import true_purchase_probability

__all__ = [
    "COST_COMMUNICATION",
    "COST_DELIVERY",
    "COST_PROMOTION",
    "PERSONAS",
    "PROFILES",
    "Profile",
    "DemoConfig",
    "generate",
    "true_purchase_probability",
    "true_uplift",
    "uplift_table",
]
