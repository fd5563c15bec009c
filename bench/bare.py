"""The cheapest Flask request, served the same way, for the cost of a request itself."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def ok():
    return "ok"
