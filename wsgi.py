from readiness import create_app, tune_garbage_collector

app = create_app()
# each worker loads the app once, then serves for its whole life: see the function's note
tune_garbage_collector()
