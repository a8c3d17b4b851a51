"""Widget keys, page-prefixed, in one place so tests can find every widget by key."""

SYMBOL = "symbol"  # the shared symbol selection (sidebar)

# Overview
OV_LOAD_DEMO = "ov_load_demo"

# Data explorer
EX_RANGE = "ex_range"
EX_ADJUST = "ex_adjust"
EX_FETCH = "ex_fetch"
EX_FETCH_SYMBOLS = "ex_fetch_symbols"
EX_UPLOAD = "ex_upload"
EX_UPLOAD_SYMBOL = "ex_upload_symbol"
EX_UPLOAD_GO = "ex_upload_go"
EX_UPLOAD_DATE_FORMAT = "ex_upload_date_format"
EX_UPLOAD_EXCHANGE = "ex_upload_exchange"
EX_SHOW_TABLE = "ex_show_table"
EX_PERIOD = "ex_period"
EX_LOG = "ex_log"
EX_STUDIES = "ex_studies"
EX_COMPARE = "ex_compare"
# session state (not widgets): this session's last fetch, shown until its next fetch
EX_FETCH_OUTCOME = "ex_fetch_outcome"
EX_INGEST_JOB = "ex_ingest_job"

# Model fitting
FIT_KIND = "fit_kind"
FIT_ENGINE = "fit_engine"
FIT_AUTO = "fit_auto"
FIT_P = "fit_p"
FIT_D = "fit_d"
FIT_Q = "fit_q"
FIT_CONSTANT = "fit_constant"
FIT_LOG = "fit_log"
FIT_IC = "fit_ic"
FIT_EXOG = "fit_exog"
FIT_EXOG_POLICY = "fit_exog_policy"
FIT_OUTLIERS = "fit_outliers"
FIT_WINDOW = "fit_window"
FIT_FOLDS = "fit_folds"
FIT_HORIZON = "fit_horizon"
FIT_MEMBERS = "fit_members"
FIT_WEIGHTING = "fit_weighting"
# LSTM settings: "fit_lstm_<setting>" for each of its __init__ names (window, units, ...)
FIT_LSTM = "fit_lstm_"
FIT_GO = "fit_go"
FIT_SAVE = "fit_save"
FIT_PROMOTE = "fit_promote"
FIT_OVERRIDE = "fit_override"
FIT_ROLLBACK = "fit_rollback"

# Forecast
FC_HORIZON = "fc_horizon"
FC_OVERLAY = "fc_overlay"
FC_NAIVE = "fc_naive"
FC_LOG = "fc_log"

# Monitoring
MON_WINDOW = "mon_window"
MON_RETRAIN = "mon_retrain"
MON_PROMOTE = "mon_promote"
MON_CALIBRATION = "mon_calibration"

# Sidebar sign-in
AUTH_PASSWORD = "auth_password"
AUTH_SIGN_IN = "auth_sign_in"
AUTH_SIGN_OUT = "auth_sign_out"

# Model fitting (background fit job)
FIT_CANCEL = "fit_cancel"

# Model fitting: promotion and rollback (a verdict is shown, then confirmed)
FIT_CHALLENGER = "fit_challenger"
FIT_PROMOTE_CONFIRM = "fit_promote_confirm"
FIT_ROLLBACK_TO = "fit_rollback_to"
FIT_ROLLBACK_CONFIRM = "fit_rollback_confirm"
# session state (not widgets): the verdict on screen, the version the override box is for,
# the message to show after the rerun that follows a write
FIT_PROMOTE_VERDICT = "fit_promote_verdict"
FIT_ROLLBACK_VERDICT = "fit_rollback_verdict"
FIT_OVERRIDE_FOR = "fit_override_for"
FIT_CLEAR_OVERRIDE = "fit_clear_override"
FIT_NOTICE = "fit_notice"
