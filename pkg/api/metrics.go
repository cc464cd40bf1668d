package api

import "github.com/labstack/echo/v4"

// HasMetrics reports whether GET /metrics is served ([server] metrics).
func (a *API) HasMetrics() bool { return a.metrics != nil }

// Metrics handles GET /metrics: the Prometheus metrics, behind
// [server] metrics_token when it is set. A wrong token counts as a failed
// authentication, as on the other APIs.
func (a *API) Metrics(c echo.Context) error {
	w, r := c.Response(), c.Request()
	if a.metricsAuth != nil {
		if _, ok := a.check(w, r, a.metricsAuth); !ok {
			return nil
		}
	}
	a.metrics.ServeHTTP(w, r)
	return nil
}
