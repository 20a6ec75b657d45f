#!/usr/bin/env bash
# report.sh — fsmml_report as a person sees it: rendered by headless Chromium (a screenshot is
# produced, every chart's SVG is in the rendered DOM and non-empty), self-contained (no script,
# no external URL), HTML-escaped (a symbol containing <script> shows as text), "no data yet"
# panels on an empty series, readable by fsmml_reader, a few hundred KB at most.
. "$(dirname "$0")/../lib.sh"
set -u
W=$FSMML_TEST_DIR/report; rm -rf "$W"; mkdir -p "$W"
CHROME=$(command -v chromium || command -v chromium-browser)
check "chromium is installed" [ -n "$CHROME" ]
SYM='<script>alert(1)</script>&"x'
SQLSYM=$(printf "%s" "$SYM" | sed "s/'/''/g")

# 1500 hourly bars of a deterministic path for a symbol with markup in its name
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
INSERT INTO trading.historicaldata
SELECT '$SQLSYM', '1h', ts, o, greatest(o, c) + 0.3, least(o, c) - 0.3, c, 100 + 30 * abs(sin(i))
FROM (SELECT i, '2024-03-01'::timestamptz + i * interval '1 hour' AS ts,
             100 + 4 * sin(i / 40.0) + 0.5 * sin(i * 1.3) AS o,
             100 + 4 * sin((i + 1) / 40.0) + 0.5 * sin((i + 1) * 1.3) AS c
      FROM generate_series(0, 1499) AS i) s;
INSERT INTO trading.agentsignals (symbol, timeframe, "timestamp", side, size)
SELECT symbol, timeframe, "timestamp", CASE WHEN (i / 30) % 2 = 0 THEN 1 ELSE -1 END, 0.5
FROM (SELECT *, row_number() OVER (ORDER BY "timestamp") AS i FROM trading.historicaldata
      WHERE symbol = '$SQLSYM') h WHERE i % 30 = 0;
SELECT count(*) FROM fsmml_backtest('$SQLSYM', '1h', '-infinity', 'infinity');
INSERT INTO trading.state_history (symbol, timeframe, "timestamp", state, confidence, effort, result)
SELECT symbol, timeframe, "timestamp", (ARRAY['neutral', 'trend_up', 'trend_down', 'compression'])[1 + (i / 12) % 4],
       60, 0.5 + abs(sin(i)), abs(cos(i * 0.7))
FROM (SELECT *, row_number() OVER (ORDER BY "timestamp") AS i FROM trading.historicaldata
      WHERE symbol = '$SQLSYM') h;
INSERT INTO trading.transitions (symbol, timeframe, "timestamp", from_state, to_state, confidence)
SELECT symbol, timeframe, "timestamp", prev, state, 60
FROM (SELECT *, lag(state) OVER (ORDER BY "timestamp") AS prev FROM trading.state_history
      WHERE symbol = '$SQLSYM') h
WHERE prev <> state;
SQL
check "bars, a backtest, states and transitions loaded" [ $? -eq 0 ]
# A champion registered directly whose blob is no XGBoost model, with hold-out metrics and two days
# of stored predictions: versions and live health draw; importance says the model is unreadable.
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
INSERT INTO trading.agentversions (symbol, timeframe, agent, version, status, model, model_format,
                                   model_sha256, metrics, feature_names, ext_version)
VALUES ('$SQLSYM', '1h', 'DirectionXGB', 'v1.0.0', 'champion', '\\x7b7d', 'xgboost-json',
        encode(sha256('\\x7b7d'), 'hex'), '{"holdout": {"auc": 0.55}}', '{ret_1}', '0.2.0');
SELECT fsmml_create_pred_partitions('2024-03-01', '2024-05-31');
INSERT INTO trading.agentpreds (agent_version_id, symbol, timeframe, "timestamp", payload)
SELECT v.id, h.symbol, h.timeframe, h."timestamp", jsonb_build_object('prob_up', 0.5 + 0.3 * sin(extract(epoch FROM h."timestamp") / 7200))
FROM trading.historicaldata h JOIN trading.agentversions v ON v.symbol = h.symbol
WHERE h.symbol = '$SQLSYM' AND h."timestamp" > (SELECT max("timestamp") - interval '2 days' FROM trading.historicaldata WHERE symbol = '$SQLSYM');
SQL
check "a champion with stored predictions" [ $? -eq 0 ]
psql -X -q -c "SELECT count(*) FROM fsmml_optimize('StateFSM', '$SQLSYM', '1h', 15)" >/dev/null 2>&1
check "a calibration exists" [ "$(q "SELECT count(*) FROM trading.calibrations WHERE symbol = '$SQLSYM'")" = 1 ]

q "CREATE ROLE report_reader LOGIN IN ROLE fsmml_reader" >/dev/null
psql -X -At -U report_reader -c "SELECT fsmml_report('$SQLSYM', '1h', 30)" >"$W/report.html"
check "a reader renders the report" [ $? -eq 0 ] && [ -s "$W/report.html" ]
q "SELECT fsmml_report('EMPTY', '1h')" >"$W/empty.html"
size=$(wc -c <"$W/report.html")
echo "# report: $size bytes"
check "a few hundred KB at most ($size bytes)" [ "$size" -lt 600000 ]
check "self-contained: no <script>, no external reference" \
    bash -c "! grep -qiE '<script|src=|href=|@import|url\\(' '$W/report.html'"
check "the symbol is HTML-escaped" grep -q '&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;x' "$W/report.html"

for f in report empty; do
    timeout 120 "$CHROME" --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=960,3300 \
        --screenshot="$W/$f.png" "file://$W/$f.html" >"$W/$f.chrome.log" 2>&1
    check "chromium renders a screenshot of the $f page" [ -s "$W/$f.png" ]
    timeout 120 "$CHROME" --headless=new --no-sandbox --disable-gpu --dump-dom "file://$W/$f.html" \
        >"$W/$f.dom" 2>>"$W/$f.chrome.log"
done
"$PY" - "$W/report.dom" "$W/empty.dom" "$SYM" <<'PYEOF' >"$W/dom.check"
import sys
from html.parser import HTMLParser
charts = ["price", "equity", "drawdown", "states", "transitions", "effort_result", "calibrations",
          "champions", "health", "importance"]
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.stack = []; self.svgs = {}; self.cur = None; self.text = []; self.h1 = ""
        self.in_h1 = False; self.scripts = 0; self.empty = {}
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script": self.scripts += 1
        if tag == "h1": self.in_h1 = True
        if tag == "svg" and "data-chart" in a:
            self.cur = a["data-chart"]; self.svgs[self.cur] = 0
        elif self.cur:
            self.svgs[self.cur] += 1
            if a.get("class") == "empty": self.empty[self.cur] = 1
    def handle_endtag(self, tag):
        if tag == "svg": self.cur = None
        if tag == "h1": self.in_h1 = False
    def handle_data(self, d):
        if self.in_h1: self.h1 += d
        if self.cur and d.strip(): self.svgs[self.cur] += 1
for path, name in ((sys.argv[1], "report"), (sys.argv[2], "empty")):
    p = P(); p.feed(open(path, encoding="utf-8").read())
    for c in charts:
        print(f"{name} {c} {p.svgs.get(c, -1)}")
        print(f"{name}-empty {c} {p.empty.get(c, 0)}")
    print(f"{name} scripts {p.scripts}")
    if name == "report":
        print("title_has_symbol_text", int(sys.argv[3] in p.h1))
PYEOF
for c in price equity drawdown states transitions effort_result calibrations champions health importance; do
    n=$(awk -v c="$c" '$1 == "report" && $2 == c {print $3}' "$W/dom.check")
    check "rendered page: chart $c is an SVG with content ($n elements)" [ "${n:--1}" -gt 0 ]
    n=$(awk -v c="$c" '$1 == "empty" && $2 == c {print $3}' "$W/dom.check")
    check "empty series: chart $c is still a non-empty SVG" [ "${n:--1}" -gt 0 ]
done
check "the symbol containing <script> is shown as text, no script element in the DOM" \
    [ "$(grep -c 'title_has_symbol_text 1\|report scripts 0' "$W/dom.check")" = 2 ]
check "empty series panels say \"no data yet\"" [ "$(grep -o 'no data yet' "$W/empty.html" | wc -l)" -ge 8 ]
check "an unreadable champion model leaves the importance panel saying so, the page whole" \
    grep -q "the champion&#39;s model could not be read" "$W/report.html"
check "live health in hourly buckets over two days of predictions" grep -q "hourly hit rate" "$W/report.html"
for c in price equity drawdown states transitions effort_result calibrations champions health; do
    check "chart $c draws data (not a \"no data yet\" panel)" \
        [ "$(awk -v c="$c" '$1 == "report-empty" && $2 == c {print $3}' "$W/dom.check")" = 0 ]
done
out=$(q "SELECT fsmml_report('X', '7m')" 2>&1)
check "an invalid timeframe is refused" grep -q 'invalid timeframe' <<<"$out"
echo "# screenshots: $W/report.png $W/empty.png"
finish
