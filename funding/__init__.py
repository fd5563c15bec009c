"""Money that follows the gap: collective decisions, the reserve fund, purchase requests and
shelter subsidies (issue 20, items 4–7)."""

from flask import Flask


def init_app(app: Flask) -> None:
    from funding.decisions import Policy

    # a wrong setting stops the start, not a spending approval later
    policy = Policy.of(app.config["COLLECTIVE_DECISION_THRESHOLD"], app.config["DECISION_QUORUM"])
    if not 0 < policy.quorum <= 1 or policy.threshold < 0:
        raise ValueError(
            "DECISION_QUORUM must be above 0 and at most 1; the threshold not negative"
        )
    from funding import api, purchases, subsidies, subsidy_api, subsidy_views, views
    from inventory.shortfall import ON_ORDER_SOURCES
    from shelters.inspections import ON_RECORDED

    if purchases.on_order not in ON_ORDER_SOURCES:
        ON_ORDER_SOURCES.append(purchases.on_order)
    # an inspection that writes a subsidy proposes it, in the same transaction
    if subsidies.follow_inspection not in ON_RECORDED:
        ON_RECORDED.append(subsidies.follow_inspection)
    app.register_blueprint(views.bp)
    api.init_app(app)
    app.register_blueprint(subsidy_views.bp)
    subsidy_api.init_app(app)
