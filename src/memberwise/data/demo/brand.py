"""The planted parameters of the demo brand: personas, channels, seasonality peaks, campaign uplift and costs.

Per-persona arrays are in PERSONAS order. Tests and the budget defaults read these as the ground truth.
"""

from __future__ import annotations

import numpy as np

from memberwise.data.contract import ACTIVITIES

PERSONAS = ("self_app", "gift_store", "deal_hunter", "lapsing_low")
CATEGORIES = ("skincare", "makeup", "fragrance", "body_care", "hair_care", "gift_sets", "men", "accessories")
CITIES = (
    ("Shanghai", "Shanghai"), ("Beijing", "Beijing"), ("Guangzhou", "Guangdong"), ("Shenzhen", "Guangdong"),
    ("Hangzhou", "Zhejiang"), ("Chengdu", "Sichuan"), ("Wuhan", "Hubei"), ("Nanjing", "Jiangsu"),
    ("Xi'an", "Shaanxi"), ("Chongqing", "Chongqing"),
)  # fmt: skip
EVENTS = ("visit", "click", "checkin", "share", "live_view", "add_to_cart", "favorite", "coupon_claim")

# Per persona, in PERSONAS order. Rates are orders per year while alive; lapse is per year.
SHARE = np.array([0.30, 0.25, 0.25, 0.20])
RATE_MEAN = np.array([11.0, 6.0, 10.0, 3.0])
LAPSE_PER_YEAR = np.array([0.35, 0.30, 0.55, 2.0])
AOV = np.array([260.0, 620.0, 140.0, 50.0])
COUPON_P = np.array([0.15, 0.08, 0.85, 0.05])  # lapsing-low buyers ignore coupons
GIFT_P = np.array([0.05, 0.70, 0.08, 0.05])
ENROLL_P = np.array([0.80, 0.60, 0.35, 0.20])
ENGAGE_PER_WEEK = np.array([0.45, 0.25, 0.35, 0.12])
BUY_AT_ACQUISITION_P = np.array([0.85, 0.80, 0.85, 0.70])
#                              app  wechat tmall  jd  douyin pos
CHANNEL_WEIGHT = np.array([[6.0, 2.0, 1.5, 0.5, 0.3, 0.3],
                           [0.5, 1.5, 0.6, 0.2, 0.1, 6.0],
                           [0.5, 0.3, 3.0, 3.0, 3.0, 0.2],
                           [0.3, 0.8, 2.0, 1.0, 3.0, 0.2]])  # fmt: skip
EXTRA_ACCOUNT_P = np.array([[0.0, 0.45, 0.30, 0.10, 0.05, 0.10],
                            [0.15, 0.40, 0.15, 0.05, 0.02, 0.0],
                            [0.10, 0.10, 0.40, 0.40, 0.40, 0.05],
                            [0.05, 0.15, 0.20, 0.10, 0.20, 0.02]])  # fmt: skip
CATEGORY_WEIGHT = np.array([[4, 3, 1, 2, 2, 0.3, 0.5, 1],
                            [1, 1, 4, 1, 0.5, 5, 1, 2],
                            [3, 3, 0.5, 2, 2, 0.5, 0.5, 0.5],
                            [3, 1, 0.2, 2, 2, 0.1, 0.5, 0.3]])  # fmt: skip
EVENT_WEIGHT = np.array([[4, 3, 0.2, 0.5, 1, 1, 0.5, 0.3],
                         [2.5, 1.5, 4.5, 0.3, 0.2, 0.3, 1, 0.5],
                         [2, 3, 0.2, 0.5, 1.5, 0.5, 0.5, 3],
                         [5, 3, 0.2, 0.2, 2, 0.3, 0.2, 0.5]])  # fmt: skip
REFUND_P = 0.03
HUB_ACCOUNTS = 80
HUB_ELIGIBLE_SHARE = 0.15  # roughly the share of people holding a pos account and a card
NEW_WINDOW_DAYS = 90
RESPONSE_WINDOW_DAYS = 14

# Promotion peaks: (name, month, day) for fixed-date festivals, plus Chinese New Year and Mid-Autumn.
CHINESE_NEW_YEAR = ("2023-01-22", "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06")
MID_AUTUMN = ("2023-09-29", "2024-09-17", "2025-10-06", "2026-09-25")
# Weekly multiplier per persona in the peak week (and the week before for the festivals people prepare for).
PEAK_EFFECT = {
    "618": np.array([1.4, 1.2, 3.0, 1.5]),
    "double_11": np.array([1.7, 1.3, 3.5, 1.8]),
    "double_12": np.array([1.2, 1.2, 2.0, 1.3]),
    "pre_cny": np.array([1.3, 3.0, 1.2, 1.1]),
    "cny": np.array([0.6, 0.6, 0.6, 0.6]),
    "pre_mid_autumn": np.array([1.1, 2.2, 1.0, 1.0]),
    "member_day": np.array([1.25, 1.1, 1.05, 1.0]),
}

# Campaign uplift: incremental orders per contact = base(communication) x promotion x delivery x
# audience x fit(audience, activity). Incremental revenue per contact = that x mean extra order value.
UPLIFT_COMMUNICATION = {"sms": 0.012, "wecom": 0.035, "app_push": 0.008, "ai_call": 0.022}
UPLIFT_PROMOTION = {"none": 1.0, "small_coupon": 1.7, "deep_discount": 2.6}
UPLIFT_DELIVERY = {"paid_media": 1.25, "private_domain": 1.0}
UPLIFT_AUDIENCE = {"new_customer": 0.8, "returning_customer": 0.9, "new_member": 1.1, "returning_member": 1.3}
# Fit of an activity to an audience, activities in ACTIVITIES order:
# repurchase_coupon, new_product_trial, member_day, points_redemption.
UPLIFT_FIT = {
    audience: dict(zip(ACTIVITIES, fit, strict=True))
    for audience, fit in {
        "new_customer": (1.2, 1.4, 0.6, 0.3),
        "returning_customer": (1.5, 1.0, 0.6, 0.3),
        "new_member": (1.1, 1.3, 1.4, 0.8),
        "returning_member": (1.3, 0.9, 1.5, 1.4),
    }.items()
}
EXTRA_ORDER_VALUE = {"none": 220.0, "small_coupon": 200.0, "deep_discount": 160.0}  # mean paid amount
COST_COMMUNICATION = {"sms": 0.05, "wecom": 0.40, "app_push": 0.01, "ai_call": 0.90}
COST_DELIVERY = {"paid_media": 1.50, "private_domain": 0.0}
COST_PROMOTION = {"none": 0.0, "small_coupon": 2.0, "deep_discount": 8.0}
TREATMENT_SHARE = 0.85

KPI_STRETCH = 1.12  # targets ask ~12% more than the brand turns out to sell: the current year shows a gap
