"""A bureau with two stations and the people who record, own, command and inspect drills."""

import pytest


@pytest.fixture
def bureau(make_unit, make_user):
    df = make_unit("DF", kind="bureau")
    daye = make_unit("DAYE", parent=df)
    luidan = make_unit("LUDIAN", parent=df)
    return {
        "df": df,
        "daye": daye,
        "ludian": luidan,
        "clerk": make_user("clerk1", "clerk", daye),
        "owner": make_user("owner1", "clerk", daye, name="张队长"),
        "cmd": make_user("cmd1", "command", df),
        "insp": make_user("insp1", "inspector", df),
    }
