using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Pipeline.ServiceDefaults.Errors;

/// <summary>
/// Every error a service answers is an RFC 7807 problem (<c>application/problem+json</c>) whose detail a user can act
/// on: a bad parameter names the parameter and what it must be; an unexpected failure says "internal error" with a
/// trace id to find it in the service's log. No stack trace, exception text or request header ever reaches a client,
/// whatever the environment: ASP.NET Core's developer exception page (which echoes the request's headers, the API key
/// among them) is replaced too.
/// </summary>
public static partial class ProblemResponses
{
    public static IHostApplicationBuilder AddProblemResponses(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = Customize);
        builder.Services.AddSingleton<ProblemExceptionHandler>();
        builder.Services.AddSingleton<IExceptionHandler>(services => services.GetRequiredService<ProblemExceptionHandler>());
        // Minimal APIs answer a failed binding with an empty 400 outside Development; thrown, it reaches the handler
        // below, which names the parameter.
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.AddSingleton<IDeveloperPageExceptionFilter, NoDeveloperPage>();
        // Outermost, before anything the service adds (its API key check included), so that every error is covered.
        builder.Services.AddSingleton<IStartupFilter, ErrorPipeline>();
        return builder;
    }

    private static void Customize(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        problem.Detail ??= problem.Status switch
        {
            StatusCodes.Status401Unauthorized => "send the API key in the X-Api-Key header (or Authorization: Bearer KEY)",
            StatusCodes.Status404NotFound => $"nothing is served at {context.HttpContext.Request.Method} {context.HttpContext.Request.Path}",
            StatusCodes.Status405MethodNotAllowed => $"{context.HttpContext.Request.Path} does not take {context.HttpContext.Request.Method}",
            _ => null,
        };
    }

    private sealed class ErrorPipeline : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UseExceptionHandler();
            app.UseStatusCodePages();
            next(app);
        };
    }

    /// <summary>In Development the developer exception page catches first: it asks its filters, and this one answers
    /// the same problem as in Production instead of the page.</summary>
    private sealed class NoDeveloperPage(ProblemExceptionHandler handler) : IDeveloperPageExceptionFilter
    {
        public async Task HandleExceptionAsync(ErrorContext errorContext, Func<ErrorContext, Task> next) =>
            await handler.TryHandleAsync(errorContext.HttpContext, errorContext.Exception, errorContext.HttpContext.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>A client error (bad parameter, body too large) as its own problem; anything else as an internal error,
    /// logged here with the trace id the client is given.</summary>
    internal sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(httpContext);
            ArgumentNullException.ThrowIfNull(exception);
            if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
            {
                // The client left: nobody reads an answer.
                httpContext.Response.StatusCode = StatusCodes.Status499ClientClosedRequest;
                return true;
            }
            // The same id as the problem's traceId field (and the log line below).
            var traceId = Activity.Current?.Id ?? httpContext.TraceIdentifier;
            int status;
            string detail;
            if (Find<BadHttpRequestException>(exception) is { } bad)
            {
                status = bad.StatusCode;
                detail = Explain(bad, httpContext.Request);
                LogClientError(logger, httpContext.Request.Method, httpContext.Request.Path.Value ?? "", status, detail);
            }
            else
            {
                status = StatusCodes.Status500InternalServerError;
                detail = $"internal error (trace id {traceId}); the service's log has the details";
                LogInternalError(logger, exception, httpContext.Request.Method, httpContext.Request.Path.Value ?? "", traceId);
            }
            if (httpContext.Response.HasStarted) return true;
            httpContext.Response.Clear();
            httpContext.Response.StatusCode = status;
            var problem = new ProblemDetails { Status = status, Detail = detail };
            if (await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem }).ConfigureAwait(false))
                return true;
            // The client accepts no JSON: the same sentence as text.
            httpContext.Response.ContentType = "text/plain; charset=utf-8";
            await httpContext.Response.WriteAsync(detail + "\n", cancellationToken).ConfigureAwait(false);
            return true;
        }

        private static T? Find<T>(Exception exception) where T : Exception
        {
            for (Exception? e = exception; e is not null; e = e.InnerException)
            {
                if (e is T found) return found;
            }
            return null;
        }

        /// <summary>ASP.NET Core's binding messages name the C# parameter and type; the user knows the query key and
        /// wants to hear what the value must be.</summary>
        internal static string Explain(BadHttpRequestException bad, HttpRequest request)
        {
            var message = bad.Message;
            if (BindFailure().Match(message) is { Success: true } binding)
            {
                var name = binding.Groups["name"].Value;
                var value = binding.Groups["value"].Value;
                // [FromQuery(Name = "min_score")] binds minScore: the key that carried the value is what the user wrote.
                var keys = request.Query.Where(q => q.Value.Any(v => v == value)).Select(q => q.Key).ToList();
                var shown = keys.Count == 1 ? keys[0] : name;
                var where = keys.Count == 1 ? "query parameter" : "parameter";
                return $"{where} '{shown}' must be {Expected(binding.Groups["type"].Value)}, got '{value}'";
            }
            if (JsonBodyFailure().Match(message) is { Success: true } body)
            {
                var at = bad.InnerException is JsonException json && json.Path is { } path
                    ? $" (at {path}, line {json.LineNumber + 1}, byte {json.BytePositionInLine + 1})"
                    : "";
                return $"the request body must be JSON for '{body.Groups["name"].Value}'{at}";
            }
            return message;
        }

        private static string Expected(string type) => Unwrapped(type) switch
        {
            "int" or "long" or "short" or "Int32" or "Int64" => "an integer",
            "double" or "float" or "decimal" or "Double" or "Single" => "a number",
            "bool" or "Boolean" => "true or false",
            "Guid" => "a GUID",
            "DateTime" or "DateTimeOffset" => "a date and time (ISO 8601)",
            var other => $"a valid {other}",
        };

        // "int?" and "Nullable<int>" both mean an int that may be left out.
        private static string Unwrapped(string type) =>
            type.StartsWith("Nullable<", StringComparison.Ordinal) && type.EndsWith('>') ? type["Nullable<".Length..^1] : type.TrimEnd('?');

        [GeneratedRegex("^Failed to bind parameter \"(?<type>[^ \"]+) (?<name>[^ \"]+)\" from \"(?<value>.*)\"\\.$", RegexOptions.Singleline)]
        private static partial Regex BindFailure();

        [GeneratedRegex("^Failed to read parameter \"(?<type>[^ \"]+) (?<name>[^ \"]+)\" from the request body as JSON\\.$")]
        private static partial Regex JsonBodyFailure();

        [LoggerMessage(Level = LogLevel.Information, Message = "{Method} {Path}: {Status} {Detail}")]
        private static partial void LogClientError(ILogger logger, string method, string path, int status, string detail);

        [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed (trace id {TraceId})")]
        private static partial void LogInternalError(ILogger logger, Exception exception, string method, string path, string traceId);
    }
}
