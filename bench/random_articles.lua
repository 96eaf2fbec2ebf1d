-- wrk script: each request asks for a random article of the store (ARTICLES=N), so the page
-- micro-cache rarely holds it and the figure is the cost of rendering an article page.
local articles = tonumber(os.getenv("ARTICLES") or "1000")
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/articles/" .. math.random(1, articles))
end
