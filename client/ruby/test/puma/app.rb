# frozen_string_literal: true

# The rack app of test_puma.rb: every request to /inc or /inc_sync counts one request and one
# latency observation; /inc_sync also flushes (waits for the daemon's ACK) before it answers, so
# a response means its ops are in the daemon. Each worker sets its liveall "up" gauge at boot.
require 'metricsd'

module PumaApp
  REQUESTS = Metricsd::Counter.new(:puma_requests_total, docstring: 'Requests served.', labels: [:route])
  UP = Metricsd::Gauge.new(:puma_worker_up, docstring: 'One series per live worker.', mode: :liveall)
  IN_FLIGHT = Metricsd::Gauge.new(:puma_in_flight, docstring: 'Requests in progress.')
  LATENCY = Metricsd::Histogram.new(:puma_request_seconds, docstring: 'Request latency.')

  APP = lambda do |env|
    route = env['PATH_INFO']
    status = IN_FLIGHT.track_in_progress do
      LATENCY.time do
        next 404 unless ['/inc', '/inc_sync'].include?(route)

        REQUESTS.increment(labels: { route: route })
        200
      end
    end
    # After every op of this request, so that an answer to /inc_sync means all of them arrived.
    status = 503 if route == '/inc_sync' && !Metricsd.client.flush(5.0)
    [status, { 'Content-Type' => 'text/plain' }, ["#{Process.pid}\n"]]
  end
end
